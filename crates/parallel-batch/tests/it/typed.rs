//! Issue 26: typed columns (`name (type): description`) reach the API as JSON types, stay
//! typed in JSON Lines, and are written to CSV as text that reads back as the same values.

use serde_json::Value;

use crate::support::{Emu, read_csv_output, read_jsonl_output, run_command, run_ok, write_csv};

const TYPED: &str = "ceo: CEO name, employees (integer): head count, revenue (number): \
    yearly revenue in USD, public (boolean): listed on an exchange, founded (date): founding \
    date, tags (list): industries";

#[test]
fn typed_columns_keep_their_type_in_jsonl_and_read_back_from_csv() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 30);
    let jsonl = dir.path().join("out.jsonl");
    let csv = dir.path().join("out.csv");
    for output in [&jsonl, &csv] {
        run_ok(run_command(&emu, &["--quiet"], &input, output).args(["--columns", TYPED]));
    }
    let lines = read_jsonl_output(&jsonl);
    let (header, rows) = read_csv_output(&csv);
    assert_eq!(
        header[3..9],
        ["ceo", "employees", "revenue", "public", "founded", "tags"]
    );
    assert_eq!(lines.len(), 30);
    for (row, line) in &lines {
        let out = &line["output"];
        let cells = &rows[row];
        // JSON Lines keeps the JSON type the schema asked for.
        assert!(out["employees"].is_i64(), "{out}");
        assert!(out["revenue"].is_number(), "{out}");
        assert!(out["public"].is_boolean(), "{out}");
        let founded = out["founded"].as_str().unwrap();
        assert!(
            founded.len() == 10 && founded.as_bytes()[4] == b'-' && founded.as_bytes()[7] == b'-',
            "{founded}"
        );
        assert!(out["tags"].as_array().unwrap().iter().all(Value::is_string));
        // The same run's CSV cells read back as the same values (the emulator's outputs are
        // the same for the same input and task).
        assert_eq!(
            cells["employees"].parse::<i64>().ok(),
            out["employees"].as_i64()
        );
        let revenue: f64 = cells["revenue"].parse().unwrap();
        assert!((revenue - out["revenue"].as_f64().unwrap()).abs() < 1e-9);
        assert_eq!(
            cells["public"].parse::<bool>().ok(),
            out["public"].as_bool()
        );
        assert_eq!(cells["founded"], founded);
        let tags: Value = serde_json::from_str(&cells["tags"]).unwrap();
        assert_eq!(tags, out["tags"], "a list is JSON array text: row {row}");
    }
}
