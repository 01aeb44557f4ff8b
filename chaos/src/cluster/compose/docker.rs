//! The `docker` and compose commands [`super::ComposeCluster`] runs, each with a deadline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::cluster::command;

/// Deadline of a quick `docker` command (kill, pause, inspect, network connect).
pub const QUICK: Duration = Duration::from_secs(30);

/// The compose tool: `docker compose` (v2) if it answers, else `docker-compose` (v1.28+).
pub fn compose_tool() -> anyhow::Result<Vec<String>> {
    for tool in [&["docker", "compose"][..], &["docker-compose"][..]] {
        let mut command = Command::new(tool[0]);
        command.args(&tool[1..]).arg("version");
        if command::run(&mut command, QUICK).is_ok() {
            return Ok(tool.iter().map(|s| s.to_string()).collect());
        }
    }
    bail!("neither `docker compose` nor `docker-compose` works here")
}

/// One compose project: the tool, project name, file and environment every call uses.
#[derive(Debug, Clone)]
pub struct Project {
    /// `docker compose` or `docker-compose`.
    pub tool: Vec<String>,
    /// `-p` name.
    pub name: String,
    /// `-f` file.
    pub file: PathBuf,
    /// Variables set for every compose call (image, ports, timeouts).
    pub env: BTreeMap<String, String>,
}

impl Project {
    /// Runs `<tool> -p <name> -f <file> <args>` with the project's environment.
    pub fn compose(&self, args: &[&str], timeout: Duration) -> anyhow::Result<String> {
        let mut command = Command::new(&self.tool[0]);
        command.args(&self.tool[1..]).arg("-p").arg(&self.name).arg("-f").arg(&self.file).args(args);
        command.envs(&self.env);
        command::run(&mut command, timeout)
    }

    /// The id of `service`'s container.
    pub fn container(&self, service: &str) -> anyhow::Result<String> {
        let id = self.compose(&["ps", "-q", service], QUICK)?.trim().to_string();
        if id.is_empty() {
            bail!("compose project {} has no container for {service}", self.name);
        }
        Ok(id)
    }
}

/// Runs `docker <args>` and returns its stdout.
pub fn docker(args: &[&str], timeout: Duration) -> anyhow::Result<String> {
    command::run(Command::new("docker").args(args), timeout)
}

/// Stdout and stderr of `docker logs <container>`, interleaved per stream.
pub fn logs(container: &str) -> anyhow::Result<String> {
    let output = command::run_unchecked(Command::new("docker").args(["logs", "-t", container]), QUICK)?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Ok(text)
}

/// `(running, paused)` of each container, by id as given.
pub fn states(containers: &[&str]) -> anyhow::Result<BTreeMap<String, (bool, bool)>> {
    let mut args = vec!["inspect", "-f", "{{.Id}} {{.State.Running}} {{.State.Paused}}"];
    args.extend_from_slice(containers);
    let text = docker(&args, QUICK)?;
    let mut states = BTreeMap::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let [id, running, paused] = words[..] else { bail!("unexpected `docker inspect` line {line:?}") };
        let given =
            containers.iter().find(|c| id.starts_with(**c)).context("inspect answered an unknown id")?;
        states.insert(given.to_string(), (running == "true", paused == "true"));
    }
    Ok(states)
}

/// The networks `container` is attached to.
pub fn networks(container: &str) -> anyhow::Result<Vec<String>> {
    let format = "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}";
    Ok(docker(&["inspect", "-f", format, container], QUICK)?.split_whitespace().map(String::from).collect())
}

/// Builds the strom image from `binary` with `script` (deploy/docker/build-image.sh).
pub fn build_image(script: &Path, binary: &Path, tag: &str) -> anyhow::Result<()> {
    let mut command = Command::new("bash");
    command.arg(script).arg("--quiet").arg("--binary").arg(binary).args(["--tag", tag]);
    command::run(&mut command, Duration::from_secs(600))
        .with_context(|| format!("building image {tag} with {}", script.display()))
        .map(drop)
}
