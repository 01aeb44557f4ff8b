//! Text rendering of `strom groups`, in kafka-consumer-groups' columns (aligned, `-` where unknown).

use super::coordinator::ListedGroup;
use super::describe::{MemberRow, OffsetRow, StateRow};
use super::reset::ResetRow;
use crate::output::Table;

fn cell<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// `--list`: one group id a line, or GROUP STATE columns when states were asked for.
pub fn render_list(groups: &[ListedGroup], with_state: bool) -> String {
    if !with_state {
        return groups.iter().map(|g| format!("{}\n", g.group_id)).collect();
    }
    let mut table = Table::new(["GROUP", "STATE"]);
    for g in groups {
        table.row([g.group_id.clone(), cell(g.state.as_deref())]);
    }
    table.render()
}

/// `--describe` (offsets view) of one group: an optional notice line, then the table.
pub fn render_offsets(notice: Option<&str>, rows: &[OffsetRow]) -> String {
    let mut table = Table::new([
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "LAG-SECONDS",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ]);
    for r in rows {
        table.row([
            r.group.clone(),
            r.topic.clone(),
            r.partition.to_string(),
            cell(r.current_offset),
            cell(r.log_end_offset),
            cell(r.lag),
            cell(r.lag_seconds),
            cell(r.consumer_id.as_deref()),
            cell(r.host.as_deref()),
            cell(r.client_id.as_deref()),
        ]);
    }
    with_notice(notice, table.render())
}

/// `--describe --members` of one group (`verbose` adds GROUP-INSTANCE-ID and ASSIGNMENT).
pub fn render_members(notice: Option<&str>, rows: &[MemberRow], verbose: bool) -> String {
    let mut headers = vec!["GROUP", "CONSUMER-ID"];
    if verbose {
        headers.push("GROUP-INSTANCE-ID");
    }
    headers.extend(["HOST", "CLIENT-ID", "#PARTITIONS"]);
    if verbose {
        headers.push("ASSIGNMENT");
    }
    let mut table = Table::new(headers);
    for r in rows {
        let mut cells = vec![r.group.clone(), r.consumer_id.clone()];
        if verbose {
            cells.push(cell(r.group_instance_id.as_deref()));
        }
        cells.extend([r.host.clone(), r.client_id.clone(), cell(r.partitions)]);
        if verbose {
            cells.push(r.assignment.clone());
        }
        table.row(cells);
    }
    with_notice(notice, table.render())
}

/// `--describe --state`: one row per group.
pub fn render_states(rows: &[StateRow]) -> String {
    let mut table = Table::new(["GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"]);
    for r in rows {
        let strategy =
            if r.assignment_strategy.is_empty() { "-".into() } else { r.assignment_strategy.clone() };
        table.row([
            r.group.clone(),
            format!("{}:{} ({})", r.coordinator.host, r.coordinator.port, r.coordinator.id),
            strategy,
            r.state.clone(),
            r.members.to_string(),
        ]);
    }
    table.render()
}

/// `--reset-offsets`: GROUP TOPIC PARTITION NEW-OFFSET.
pub fn render_reset(rows: &[ResetRow]) -> String {
    let mut table = Table::new(["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]);
    for r in rows {
        table.row([r.group.clone(), r.topic.clone(), r.partition.to_string(), r.new_offset.to_string()]);
    }
    table.render()
}

fn with_notice(notice: Option<&str>, table: String) -> String {
    match notice {
        Some(line) => format!("{line}\n\n{table}"),
        None => table,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::groups::coordinator::Coordinator;

    fn row(topic: &str, partition: i32, current: Option<i64>, end: i64, owner: Option<&str>) -> OffsetRow {
        OffsetRow {
            group: "orders-app".into(),
            topic: topic.into(),
            partition,
            current_offset: current,
            log_end_offset: Some(end),
            lag: current.map(|c| end - c),
            lag_seconds: current.map(|c| if c == end { 0 } else { 75 }),
            consumer_id: owner.map(str::to_string),
            host: owner.map(|_| "/127.0.0.1".to_string()),
            client_id: owner.map(|_| "rdkafka".to_string()),
        }
    }

    #[test]
    fn offsets_table_has_kafkas_columns_plus_lag_seconds() {
        let rows = [row("orders", 0, Some(3), 10, Some("m-1")), row("orders", 1, None, 4, None)];
        assert_eq!(
            render_offsets(Some("Consumer group 'orders-app' has no active members."), &rows),
            "Consumer group 'orders-app' has no active members.\n\n\
             GROUP       TOPIC   PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  LAG-SECONDS  CONSUMER-ID  HOST        CLIENT-ID\n\
             orders-app  orders  0          3               10              7    75           m-1          /127.0.0.1  rdkafka\n\
             orders-app  orders  1          -               4               -    -            -            -           -\n"
        );
    }

    #[test]
    fn list_members_states_and_reset_tables() {
        let listed = [
            ListedGroup {
                group_id: "a".into(),
                protocol_type: "consumer".into(),
                state: Some("Stable".into()),
            },
            ListedGroup { group_id: "bb".into(), protocol_type: String::new(), state: None },
        ];
        assert_eq!(render_list(&listed, false), "a\nbb\n");
        assert_eq!(render_list(&listed, true), "GROUP  STATE\na      Stable\nbb     -\n");

        let member = MemberRow {
            group: "g".into(),
            consumer_id: "m-1".into(),
            group_instance_id: None,
            host: "/10.0.0.1".into(),
            client_id: "c".into(),
            partitions: Some(2),
            assignment: "t(0,1)".into(),
        };
        assert_eq!(
            render_members(None, std::slice::from_ref(&member), false),
            "GROUP  CONSUMER-ID  HOST       CLIENT-ID  #PARTITIONS\ng      m-1          /10.0.0.1  c          2\n"
        );
        assert!(
            render_members(None, &[member], true)
                .ends_with("-                  /10.0.0.1  c          2            t(0,1)\n")
        );

        let state = StateRow {
            group: "g".into(),
            coordinator: Coordinator { id: 2, host: "h".into(), port: 9093 },
            assignment_strategy: String::new(),
            state: "Empty".into(),
            members: 0,
        };
        assert_eq!(
            render_states(&[state]),
            "GROUP  COORDINATOR (ID)  ASSIGNMENT-STRATEGY  STATE  #MEMBERS\ng      h:9093 (2)        -                    Empty  0\n"
        );
        let reset = ResetRow { group: "g".into(), topic: "t".into(), partition: 0, new_offset: 3 };
        assert_eq!(
            render_reset(&[reset]),
            "GROUP  TOPIC  PARTITION  NEW-OFFSET\ng      t      0          3\n"
        );
    }
}
