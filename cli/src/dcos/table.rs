//! Tables and cells as the DC/OS CLI prints them: upper-case titles, left-aligned columns
//! two spaces apart, `---` for an empty cell, Python's `True`/`False`.

use serde_json::Value;

/// Shown for an empty cell, as the DC/OS CLI does.
pub const EMPTY: &str = "---";

/// Rows under titles; rows are sorted (the DC/OS CLI sorts every table by its first column).
pub fn table(titles: &[&str], mut rows: Vec<Vec<String>>) -> String {
    rows.sort();
    let mut widths: Vec<usize> = titles.iter().map(|t| t.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(titles.to_vec());
    for row in &rows {
        out += &line(row.iter().map(String::as_str).collect());
    }
    out
}

/// A JSON value as a cell: strings bare, null as [`EMPTY`].
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => EMPTY.to_string(),
        other => other.to_string(),
    }
}

/// A JSON value as a cell, [`EMPTY`] when missing or an empty string.
pub fn text_or_empty(v: &Value) -> String {
    match v {
        Value::String(s) if s.is_empty() => EMPTY.to_string(),
        other => text(other),
    }
}

/// Python's rendering of a boolean, as the DC/OS CLI prints it.
pub fn python_bool(b: bool) -> String {
    if b { "True" } else { "False" }.to_string()
}

/// JSON as the DC/OS CLI prints it: indented by two, keys sorted (serde_json's maps are).
pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell_and_rows_sorted() {
        let got = table(
            &["ID", "APPS"],
            vec![
                vec!["/prod/web".into(), "2".into()],
                vec!["/a".into(), "10".into()],
            ],
        );
        assert_eq!(got, "ID         APPS\n/a         10\n/prod/web  2\n");
    }

    #[test]
    fn cells() {
        assert_eq!(text(&json!("x")), "x");
        assert_eq!(text(&json!(null)), "---");
        assert_eq!(text(&json!(1.5)), "1.5");
        assert_eq!(text_or_empty(&json!("")), "---");
        assert_eq!(python_bool(true), "True");
    }
}
