//! Prometheus text exposition (format 0.0.4) for gauge and counter families whose samples are
//! computed at scrape time, so label sets that no longer exist (a deleted partition, a gone group)
//! simply stop being exported.

use std::fmt::Write;

/// The Prometheus type of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value that goes up and down.
    Gauge,
    /// A monotonically increasing total.
    Counter,
}

/// A text exposition being written: families one after the other.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

/// One family being written: its `# HELP` and `# TYPE` lines are out, samples follow.
pub struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
}

impl Exposition {
    /// An empty exposition.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts the family `name` (writes its HELP and TYPE lines).
    pub fn family(&mut self, name: &'static str, kind: Kind, help: &str) -> Family<'_> {
        let kind = match kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        };
        let _ = writeln!(self.out, "# HELP {name} {}", help.replace('\\', "\\\\").replace('\n', "\\n"));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        Family { out: &mut self.out, name }
    }

    /// A family with a single unlabelled sample.
    pub fn single(&mut self, name: &'static str, kind: Kind, help: &str, value: f64) {
        self.family(name, kind, help).sample(&[], value);
    }

    /// The text written so far.
    pub fn into_text(self) -> String {
        self.out
    }
}

impl Family<'_> {
    /// Writes one sample with `labels` (name, value) in order.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(self.name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(key);
                self.out.push_str("=\"");
                escape_label_value(self.out, val);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        write_value(self.out, value);
        self.out.push('\n');
    }
}

fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn write_value(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        let _ = write!(out, "{}", value as i64);
    } else {
        let _ = write!(out, "{value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_families_with_escaped_labels() {
        let mut expo = Exposition::new();
        let mut family = expo.family("strom_x", Kind::Gauge, "An x.");
        family.sample(&[("topic", "a\"b\\c\nd"), ("partition", "0")], 3.0);
        family.sample(&[], 0.25);
        expo.single("strom_y_total", Kind::Counter, "A y.", f64::INFINITY);
        assert_eq!(
            expo.into_text(),
            "# HELP strom_x An x.\n# TYPE strom_x gauge\n\
             strom_x{topic=\"a\\\"b\\\\c\\nd\",partition=\"0\"} 3\nstrom_x 0.25\n\
             # HELP strom_y_total A y.\n# TYPE strom_y_total counter\nstrom_y_total +Inf\n"
        );
    }
}
