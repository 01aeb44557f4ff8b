//! The results directory: all four files, readable back, with the system font if there is one.

mod support;

use std::fs;

use strom_chaos::{AnomalyKind, History, ReportOptions, Results, check, recheck, write_results};
use support::{clean, simulated_run};

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
const COMMAND: &str = "strom-chaos --seed 7 --brokers 3 --duration 60s";

fn assert_png(path: &std::path::Path) {
    let bytes = fs::read(path).expect("timeline.png exists");
    assert_eq!(bytes[..8], PNG_SIGNATURE, "not a PNG");
    assert!(bytes.len() > 1000, "suspiciously small PNG: {} bytes", bytes.len());
}

#[test]
fn write_results_produces_all_four_files() {
    let history = simulated_run(60).build();
    let result = check(&history);
    assert!(result.ok, "{:#?}", result.anomalies);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run-7");
    write_results(&out, &history, &result, COMMAND).expect("results written");

    for file in ["history.json", "results.json", "report.md", "timeline.png"] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    assert_png(&out.join("timeline.png"));

    let results: Results =
        serde_json::from_str(&fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!((results.seed, results.command_line.as_str()), (7, COMMAND));
    assert_eq!(results.faults, history.faults);
    assert_eq!(results.check, result);

    let report = fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.starts_with("# Strom chaos run: PASS"), "{report}");
    assert!(report.contains("| seed | `7` |") && report.contains(COMMAND));
    assert!(report.contains("| kill_leader | 1 |") && report.contains("| pause | 1 |"), "{report}");
    assert!(report.contains("## Anomalies\n\nNone."), "{report}");

    assert_eq!(recheck(&out.join("history.json")).unwrap(), result);
}

#[test]
fn report_lists_the_first_fifty_anomalies() {
    let mut b = clean();
    for i in 0..60 {
        let value = format!("lost-{i}");
        b.ok(3, 0, &value, 100 + i).lose(0, &value);
    }
    let history = b.build();
    let result = check(&history);
    assert_eq!(result.count(AnomalyKind::LostWrite), 60);
    let dir = tempfile::tempdir().unwrap();
    write_results(dir.path(), &history, &result, COMMAND).unwrap();
    let report = fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(report.starts_with("# Strom chaos run: FAIL (60 anomalies)"), "{report}");
    assert!(report.contains("| lost_write | 60 |") && report.contains("First 50 of 60:"), "{report}");
    assert_eq!(report.matches("- **lost_write** (partition 0)").count(), 50);
    assert_png(&dir.path().join("timeline.png"));
}

#[test]
fn empty_history_still_makes_a_report() {
    let history = History::new(1, "empty", 0);
    let dir = tempfile::tempdir().unwrap();
    write_results(dir.path(), &history, &check(&history), "strom-chaos --seed 1").unwrap();
    assert_png(&dir.path().join("timeline.png"));
}

#[test]
fn recheck_rejects_a_file_that_is_not_a_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.json");
    fs::write(&path, "{\"not\": \"a history\"}").unwrap();
    assert_eq!(recheck(&path).unwrap_err().kind(), std::io::ErrorKind::InvalidData);
    assert_eq!(recheck(&dir.path().join("missing.json")).unwrap_err().kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn default_options_look_for_dejavu_first() {
    let options = ReportOptions::default();
    assert!(options.font_paths.iter().any(|p| p.ends_with("DejaVuSans.ttf")), "{options:?}");
}
