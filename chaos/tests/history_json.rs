//! The history's JSON form: a lossless round trip with stable, snake_case names.

mod support;

use strom_chaos::{FaultKind, History, WriteOutcome};
use support::clean;

fn every_kind_of_event() -> History {
    let mut b = clean();
    b.failed(0, 0, "f").unknown(1, 1, "u").unknown_appended(1, 0, "ua", 4);
    b.revoked("c1", &[0]).seek("c1", 1, 2).read("c1", 1, 2, "p1-w0-1");
    for (i, kind) in FaultKind::ALL.into_iter().enumerate() {
        b.fault(kind, 100 * i as u64, (i % 2 == 0).then_some(100 * i as u64 + 50));
    }
    b.replica(1, false);
    b.build()
}

#[test]
fn history_round_trips_through_json() {
    let history = every_kind_of_event();
    let json = history.to_json();
    assert_eq!(History::from_json(&json).expect("parses"), history);
}

#[test]
fn json_names_are_snake_case_and_tagged() {
    let history = every_kind_of_event();
    let json: serde_json::Value = serde_json::from_str(&history.to_json()).expect("valid JSON");
    // The first fault is the clean run's own; the others are one of each kind.
    let kinds: Vec<&str> =
        json["faults"].as_array().unwrap().iter().skip(1).map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, FaultKind::ALL.map(FaultKind::name));
    assert_eq!(
        kinds,
        [
            "kill_broker",
            "kill_leader",
            "kill_controller_leader",
            "pause",
            "partition",
            "rolling_restart",
            "disk_full",
            "clock_skew"
        ]
    );
    let statuses: Vec<&str> =
        json["writes"].as_array().unwrap().iter().map(|w| w["outcome"]["status"].as_str().unwrap()).collect();
    assert!(statuses.contains(&"ok") && statuses.contains(&"failed") && statuses.contains(&"unknown"));
    let log = json["consumer_log"].as_array().unwrap();
    assert_eq!(log[0]["event"]["kind"]["type"], "assigned");
    assert_eq!(log[1]["read"]["offset"], 0);
    assert_eq!(json["final_reads"][0]["records"][0], serde_json::json!([0, "p0-w0-0"]));
    assert_eq!(json["faults"][1]["end_ms"], 50);
    assert_eq!(json["faults"][2]["end_ms"], serde_json::Value::Null);
}

#[test]
fn outcome_json_is_readable() {
    let ok = serde_json::to_string(&WriteOutcome::Ok { offset: 7 }).unwrap();
    assert_eq!(ok, r#"{"status":"ok","offset":7}"#);
    let parsed: WriteOutcome = serde_json::from_str(r#"{"status":"unknown","error":"timed out"}"#).unwrap();
    assert_eq!(parsed, WriteOutcome::Unknown { error: "timed out".into() });
}

#[test]
fn check_result_round_trips_through_json() {
    let mut b = clean();
    b.ok(0, 1, "lost", 4).lose(1, "lost");
    let result = strom_chaos::check(&b.build());
    let json = serde_json::to_string(&result).unwrap();
    assert_eq!(serde_json::from_str::<strom_chaos::CheckResult>(&json).unwrap(), result);
}
