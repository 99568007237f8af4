//! The results table: one row per figure, with its target, the ratio and pass/miss.

use std::fmt::Write as _;

/// How a figure is compared with its target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    /// The figure must not exceed the value.
    AtMost(f64),
    /// The figure must reach the value.
    AtLeast(f64),
    /// Printed for comparison only.
    None,
}

/// One line of the table.
#[derive(Clone, Debug)]
pub struct Row {
    /// Benchmark (`--only` name).
    pub bench: &'static str,
    /// What was measured.
    pub figure: String,
    /// The value.
    pub value: f64,
    /// Its unit.
    pub unit: &'static str,
    /// The goal.
    pub target: Target,
}

impl Row {
    /// A row.
    pub fn new(bench: &'static str, figure: impl Into<String>, value: f64, unit: &'static str, target: Target) -> Row {
        Row { bench, figure: figure.into(), value, unit, target }
    }

    /// Whether the target is met (`None` without a target).
    pub fn pass(&self) -> Option<bool> {
        match self.target {
            Target::AtMost(t) => Some(self.value <= t),
            Target::AtLeast(t) => Some(self.value >= t),
            Target::None => None,
        }
    }
}

/// A number with a sensible amount of digits.
pub fn number(v: f64) -> String {
    if v == 0.0 {
        "0".to_string()
    } else if v.abs() >= 1000.0 {
        let s = format!("{:.0}", v);
        // Thousands separators make 10M and 100k readable.
        let (sign, digits) = s.split_at(if s.starts_with('-') { 1 } else { 0 });
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The table as Markdown (it goes into the README as printed).
pub fn render(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("| benchmark | figure | value | target | ratio | result |\n");
    out.push_str("|---|---|---:|---:|---:|---|\n");
    for r in rows {
        let (target, ratio) = match r.target {
            Target::AtMost(t) => (format!("≤ {} {}", number(t), r.unit), format!("{:.2}", r.value / t)),
            Target::AtLeast(t) => (format!("≥ {} {}", number(t), r.unit), format!("{:.2}", r.value / t)),
            Target::None => ("–".to_string(), "–".to_string()),
        };
        let result = match r.pass() {
            Some(true) => "pass",
            Some(false) => "MISS",
            None => "info",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} {} | {} | {} | {} |",
            r.bench,
            r.figure,
            number(r.value),
            r.unit,
            target,
            ratio,
            result
        );
    }
    out
}
