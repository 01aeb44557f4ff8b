//! `strom cluster`: the controller quorum — describe it, add and remove controller voters online.
//!
//! These talk to a controller's gRPC `ControllerAdmin` service (not the Kafka protocol). Membership
//! changes are sent to the leader: a follower's answer names it and the request is retried there.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::collections::BTreeMap;

use strom_controller::metadata::MetadataImage;
use strom_proto::broker_api::DescribeBrokersRequest;
use strom_proto::broker_api::broker_api_client::BrokerApiClient;
use strom_proto::controller::controller_admin_client::ControllerAdminClient;
use strom_proto::controller::{
    AddVoterRequest, DescribeQuorumRequest, DescribeQuorumResponse, MembershipResponse, ReadImageRequest,
    RemoveVoterRequest, Voter,
};
use tonic::transport::Channel;

use crate::output::{OutputArgs, Table, print_json, print_text};

/// Arguments of `strom cluster`.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    command: ClusterCommand,
}

#[derive(Debug, Clone, Subcommand)]
enum ClusterCommand {
    /// Show the controllers (leader, term, commit index, voter lag) and the brokers (id, endpoint, rack,
    /// fenced, controlled shutdown, broker epoch) as the controller quorum sees them.
    Describe {
        #[command(flatten)]
        target: ControllerTarget,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Show the controller quorum: leader, term, commit index and each voter's replication lag.
    DescribeQuorum {
        #[command(flatten)]
        target: ControllerTarget,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Add a controller as a Raft voter (it must be running, with an empty data dir).
    AddController {
        #[command(flatten)]
        target: ControllerTarget,
        /// Node id of the new controller.
        #[arg(long, value_name = "ID")]
        node_id: u64,
        /// gRPC address of the new controller, HOST:PORT.
        #[arg(long, value_name = "HOST:PORT")]
        addr: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Remove a controller voter from the quorum.
    RemoveController {
        #[command(flatten)]
        target: ControllerTarget,
        /// Node id of the controller to remove.
        #[arg(long, value_name = "ID")]
        node_id: u64,
        #[command(flatten)]
        output: OutputArgs,
    },
}

/// Which controller to ask.
#[derive(Debug, Clone, Args)]
struct ControllerTarget {
    /// Any controller's gRPC address, HOST:PORT.
    #[arg(long, env = "STROM_CONTROLLER", value_name = "HOST:PORT", default_value = "127.0.0.1:9093")]
    controller: String,
}

/// Runs `strom cluster`.
pub async fn run(args: ClusterArgs) -> Result<()> {
    match args.command {
        ClusterCommand::Describe { target, output } => describe_cluster(&target.controller, output).await,
        ClusterCommand::DescribeQuorum { target, output } => {
            describe_quorum(&target.controller, output).await
        }
        ClusterCommand::AddController { target, node_id, addr, output } => {
            let request = AddVoterRequest { node_id, addr };
            let response = on_leader(&target.controller, |mut client| {
                let request = request.clone();
                async move { client.add_voter(request).await }
            })
            .await
            .context("adding the controller")?;
            print_membership(&response, output)
        }
        ClusterCommand::RemoveController { target, node_id, output } => {
            let response = on_leader(&target.controller, |mut client| async move {
                client.remove_voter(RemoveVoterRequest { node_id }).await
            })
            .await
            .context("removing the controller")?;
            print_membership(&response, output)
        }
    }
}

async fn connect(addr: &str) -> Result<ControllerAdminClient<Channel>> {
    let endpoint = if addr.contains("://") { addr.to_string() } else { format!("http://{addr}") };
    ControllerAdminClient::connect(endpoint).await.with_context(|| format!("connecting to controller {addr}"))
}

/// Calls `rpc` on `addr`; if that node is not the leader and names one, calls it there once more.
async fn on_leader<T, F, Fut>(addr: &str, rpc: F) -> Result<T>
where
    F: Fn(ControllerAdminClient<Channel>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    match rpc(connect(addr).await?).await {
        Ok(response) => Ok(response.into_inner()),
        Err(status) if status.code() == tonic::Code::FailedPrecondition => {
            let leader = status
                .metadata()
                .get(strom_proto::LEADER_ADDR_METADATA)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string);
            match leader {
                Some(leader) if leader != addr => {
                    Ok(rpc(connect(&leader).await?).await.map_err(status_error)?.into_inner())
                }
                _ => Err(status_error(status)),
            }
        }
        Err(status) => Err(status_error(status)),
    }
}

fn status_error(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", status.code(), status.message())
}

/// The quorum as JSON (`--output json`).
#[derive(Debug, Serialize)]
struct QuorumJson {
    answered_by: u64,
    leader_id: Option<u64>,
    leader_addr: String,
    term: u64,
    commit_index: u64,
    last_applied: u64,
    last_log_index: u64,
    voters: Vec<VoterJson>,
    learners: Vec<VoterJson>,
}

#[derive(Debug, Serialize)]
struct VoterJson {
    node_id: u64,
    addr: String,
    matched_index: Option<u64>,
    lag: Option<u64>,
}

fn voter_json(voter: &Voter) -> VoterJson {
    VoterJson {
        node_id: voter.node_id,
        addr: voter.addr.clone(),
        matched_index: voter.matched_index,
        lag: voter.lag,
    }
}

/// Asks `addr`; when it is a follower that knows the leader, asks the leader too (only the leader
/// knows each voter's lag) and prints the leader's view.
async fn describe_quorum(addr: &str, output: OutputArgs) -> Result<()> {
    let mut quorum = describe(addr).await?;
    if quorum.state != "Leader" && !quorum.leader_addr.is_empty() && quorum.leader_addr != addr {
        match describe(&quorum.leader_addr).await {
            Ok(from_leader) => quorum = from_leader,
            Err(err) => tracing::warn!(%err, "leader did not answer; showing {addr}'s view"),
        }
    }
    if output.is_json() {
        return print_json(&QuorumJson {
            answered_by: quorum.node_id,
            leader_id: quorum.leader_id,
            leader_addr: quorum.leader_addr.clone(),
            term: quorum.term,
            commit_index: quorum.commit_index,
            last_applied: quorum.last_applied,
            last_log_index: quorum.last_log_index,
            voters: quorum.voters.iter().map(voter_json).collect(),
            learners: quorum.learners.iter().map(voter_json).collect(),
        });
    }
    let leader = quorum.leader_id.map_or_else(|| "none".to_string(), |id| id.to_string());
    print_text(&format!(
        "LeaderId: {leader}\tLeaderAddr: {}\tTerm: {}\tCommitIndex: {}\tAnsweredBy: {}\n",
        if quorum.leader_addr.is_empty() { "-" } else { &quorum.leader_addr },
        quorum.term,
        quorum.commit_index,
        quorum.node_id,
    ))?;
    let mut table = Table::new(["NODE", "ADDR", "ROLE", "MATCHED-INDEX", "LAG"]);
    let roles =
        quorum.voters.iter().map(|v| (v, "Voter")).chain(quorum.learners.iter().map(|v| (v, "Learner")));
    for (voter, role) in roles {
        let role = if Some(voter.node_id) == quorum.leader_id { "Leader" } else { role };
        let opt = |value: Option<u64>| value.map_or_else(|| "-".to_string(), |v| v.to_string());
        table.row([
            voter.node_id.to_string(),
            voter.addr.clone(),
            role.to_string(),
            opt(voter.matched_index),
            opt(voter.lag),
        ]);
    }
    table.print()
}

/// Milliseconds since each broker's last heartbeat, from the active controller (empty if it cannot be
/// reached).
async fn heartbeat_ages(addr: &str) -> BTreeMap<i32, i64> {
    let leader = match describe(addr).await {
        Ok(q) if !q.leader_addr.is_empty() => q.leader_addr,
        _ => addr.to_string(),
    };
    let endpoint = if leader.contains("://") { leader } else { format!("http://{leader}") };
    let Ok(mut client) = BrokerApiClient::connect(endpoint).await else { return BTreeMap::new() };
    match client.describe_brokers(DescribeBrokersRequest {}).await {
        Ok(r) => r.into_inner().brokers.into_iter().map(|b| (b.broker_id, b.last_heartbeat_age_ms)).collect(),
        Err(_) => BTreeMap::new(),
    }
}

/// The quorum, then the registered brokers from the answering controller's image, with heartbeat ages
/// from the active controller.
async fn describe_cluster(addr: &str, output: OutputArgs) -> Result<()> {
    let mut client = connect(addr).await?;
    let response = client.read_image(ReadImageRequest {}).await.map_err(status_error)?.into_inner();
    let image: MetadataImage = serde_json::from_slice(&response.image_json).context("decoding the image")?;
    let ages = heartbeat_ages(addr).await;
    let age = |id: i32| ages.get(&id).copied().filter(|a| *a >= 0);
    if output.is_json() {
        let quorum = describe(addr).await?;
        let brokers: Vec<_> = image
            .brokers()
            .map(|b| {
                let mut value = serde_json::to_value(b).unwrap_or_default();
                value["last_heartbeat_age_ms"] = serde_json::json!(age(b.broker_id));
                value
            })
            .collect();
        return print_json(&serde_json::json!({
            "leader_id": quorum.leader_id,
            "term": quorum.term,
            "commit_index": quorum.commit_index,
            "voters": quorum.voters.iter().map(voter_json).collect::<Vec<_>>(),
            "applied_index": response.applied_index,
            "brokers": brokers,
        }));
    }
    describe_quorum(addr, output).await?;
    print_text("\n")?;
    let mut table =
        Table::new(["BROKER", "ENDPOINT", "RACK", "FENCED", "SHUTTING-DOWN", "EPOCH", "LAST-HEARTBEAT-MS"]);
    for broker in image.brokers() {
        table.row([
            broker.broker_id.to_string(),
            if broker.endpoints.is_empty() {
                format!("{}:{}", broker.host, broker.port)
            } else {
                let endpoints =
                    broker.endpoints.iter().map(|e| format!("{}://{}:{}", e.name, e.host, e.port));
                endpoints.collect::<Vec<_>>().join(",")
            },
            broker.rack.clone().unwrap_or_else(|| "-".into()),
            broker.fenced.to_string(),
            broker.in_controlled_shutdown.to_string(),
            broker.broker_epoch.to_string(),
            age(broker.broker_id).map_or_else(|| "-".to_string(), |a| a.to_string()),
        ]);
    }
    table.print()
}

async fn describe(addr: &str) -> Result<DescribeQuorumResponse> {
    let mut client = connect(addr).await?;
    let response = client.describe_quorum(DescribeQuorumRequest {}).await.map_err(status_error)?;
    Ok(response.into_inner())
}

fn print_membership(response: &MembershipResponse, output: OutputArgs) -> Result<()> {
    if output.is_json() {
        let voters: Vec<VoterJson> = response.voters.iter().map(voter_json).collect();
        return print_json(&serde_json::json!({ "log_index": response.log_index, "voters": voters }));
    }
    if response.voters.is_empty() {
        bail!("the controller answered without a membership");
    }
    let ids: Vec<String> = response.voters.iter().map(|v| format!("{}={}", v.node_id, v.addr)).collect();
    print_text(&format!("Membership committed at index {}: voters {}\n", response.log_index, ids.join(",")))
}
