//! The report when no font can be found: the timeline is drawn without text, never an error.
//!
//! Its own test binary, so that no other test has registered a font in this process.

mod support;

use std::fs;
use std::path::PathBuf;

use strom_chaos::{ReportOptions, check, write_results_with};
use support::simulated_run;

#[test]
fn timeline_is_drawn_without_text_when_no_font_is_found() {
    let history = simulated_run(20).build();
    let result = check(&history);
    let cases = [
        ReportOptions { font_paths: Vec::new() },
        ReportOptions { font_paths: vec![PathBuf::from("/nonexistent/strom-chaos/NoSuchFont.ttf")] },
    ];
    for options in cases {
        let dir = tempfile::tempdir().unwrap();
        write_results_with(dir.path(), &history, &result, "strom-chaos --seed 7", &options)
            .unwrap_or_else(|e| panic!("{options:?}: {e}"));
        let png = fs::read(dir.path().join("timeline.png")).unwrap();
        assert_eq!(png[..8], [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n']);
        for file in ["history.json", "results.json", "report.md"] {
            assert!(dir.path().join(file).is_file(), "{file} missing");
        }
    }
}

#[test]
fn a_file_that_is_not_a_font_means_no_text() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake.ttf");
    fs::write(&fake, b"not a font").unwrap();
    let history = simulated_run(5).build();
    let options = ReportOptions { font_paths: vec![fake] };
    write_results_with(&dir.path().join("out"), &history, &check(&history), "x", &options).unwrap();
    assert!(dir.path().join("out/timeline.png").is_file());
}
