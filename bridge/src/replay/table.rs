//! A table printed as its rows arrive.
//!
//! comfy-table lays a table out once all of its rows are in, which held every row of a
//! long replay in memory before the first was printed (100 000 events: 11.7 s and
//! 1.2 GB). This table takes its column widths from the first [`LAYOUT_ROWS`] rows (all
//! of them for a lesson, so a short table looks as comfy-table drew it), then prints
//! each row as it comes; a later cell wider than its column wraps onto more lines of
//! the same row, so nothing is cut. On a terminal the columns fit its width.

use std::io::{self, Write};

use unicode_width::UnicodeWidthChar;

/// Rows the layout is taken from before the first is printed.
pub const LAYOUT_ROWS: usize = 100;

/// A column is never made narrower than this to fit a terminal.
const MIN_COLUMN: usize = 6;

/// The rows of a streamed table.
pub struct StreamTable {
    header: Vec<String>,
    /// Rows waiting for the layout.
    pending: Vec<Vec<String>>,
    /// Column widths once laid out (the text, without padding).
    widths: Option<Vec<usize>>,
    /// The terminal's width, when the table goes to one.
    max_width: Option<usize>,
}

impl StreamTable {
    pub fn new(header: &[&str], max_width: Option<usize>) -> StreamTable {
        StreamTable {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            pending: Vec::new(),
            widths: None,
            max_width,
        }
    }

    /// Adds a row: printed at once when the layout is fixed, else held until it is.
    pub fn row(&mut self, cells: Vec<String>, out: &mut impl Write) -> io::Result<()> {
        match &self.widths {
            Some(widths) => write_row(widths, &cells, out),
            None => {
                self.pending.push(cells);
                if self.pending.len() >= LAYOUT_ROWS {
                    self.lay_out(out)?;
                }
                Ok(())
            }
        }
    }

    /// Prints the held rows now (the input paused: a followed topic went quiet).
    pub fn flush(&mut self, out: &mut impl Write) -> io::Result<()> {
        if self.widths.is_none() && !self.pending.is_empty() {
            self.lay_out(out)?;
        }
        Ok(())
    }

    /// Prints what is held and the bottom border.
    pub fn finish(mut self, out: &mut impl Write) -> io::Result<()> {
        if self.widths.is_none() {
            self.lay_out(out)?;
        }
        let widths = self.widths.as_deref().unwrap_or_default();
        border(widths, ('└', '─', '┴', '┘'), out)
    }

    fn lay_out(&mut self, out: &mut impl Write) -> io::Result<()> {
        let mut widths: Vec<usize> = self.header.iter().map(|h| text_width(h)).collect();
        for row in &self.pending {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(text_width(cell));
            }
        }
        if let Some(max) = self.max_width {
            fit(&mut widths, max);
        }
        border(&widths, ('┌', '─', '┬', '┐'), out)?;
        write_row(&widths, &self.header, out)?;
        border(&widths, ('╞', '═', '╪', '╡'), out)?;
        for row in std::mem::take(&mut self.pending) {
            write_row(&widths, &row, out)?;
        }
        self.widths = Some(widths);
        Ok(())
    }
}

/// Narrows the widest columns until the table, borders and padding included, fits in
/// `max` characters (or every column is at [`MIN_COLUMN`]).
fn fit(widths: &mut [usize], max: usize) {
    let total = |w: &[usize]| w.iter().map(|w| w + 3).sum::<usize>() + 1;
    while total(widths) > max {
        let Some(widest) = (0..widths.len()).max_by_key(|&i| widths[i]) else {
            return;
        };
        if widths[widest] <= MIN_COLUMN {
            return;
        }
        widths[widest] -= 1;
    }
}

/// The display width of a cell's longest line.
fn text_width(text: &str) -> usize {
    text.lines().map(line_width).max().unwrap_or(0)
}

fn line_width(line: &str) -> usize {
    line.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// A cell cut into lines of at most `width` columns: its own lines, each wrapped.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for line in text.split('\n') {
        let mut current = String::new();
        let mut used = 0;
        for c in line.chars() {
            let w = c.width().unwrap_or(0);
            if used + w > width && !current.is_empty() {
                lines.push(std::mem::take(&mut current));
                used = 0;
            }
            current.push(c);
            used += w;
        }
        lines.push(current);
    }
    lines
}

fn write_row(widths: &[usize], cells: &[String], out: &mut impl Write) -> io::Result<()> {
    let wrapped: Vec<Vec<String>> = widths
        .iter()
        .enumerate()
        .map(|(i, &w)| wrap(cells.get(i).map_or("", String::as_str), w))
        .collect();
    let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
    let mut line = String::new();
    for n in 0..height {
        line.clear();
        line.push('│');
        for (i, (cell, &width)) in wrapped.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push('┆');
            }
            let text = cell.get(n).map_or("", String::as_str);
            line.push(' ');
            line.push_str(text);
            line.extend(std::iter::repeat_n(
                ' ',
                width - line_width(text).min(width) + 1,
            ));
        }
        line.push('│');
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

fn border(
    widths: &[usize],
    (left, fill, cross, right): (char, char, char, char),
    out: &mut impl Write,
) -> io::Result<()> {
    let mut line = String::new();
    line.push(left);
    for (i, &width) in widths.iter().enumerate() {
        if i > 0 {
            line.push(cross);
        }
        line.extend(std::iter::repeat_n(fill, width + 2));
    }
    line.push(right);
    line.push('\n');
    out.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(rows: &[&[&str]], max_width: Option<usize>) -> String {
        let mut out = Vec::new();
        let mut table = StreamTable::new(&["A", "Bee"], max_width);
        for row in rows {
            table
                .row(row.iter().map(|c| (*c).to_owned()).collect(), &mut out)
                .unwrap();
        }
        table.finish(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn draws_a_short_table_whole() {
        assert_eq!(
            render(&[&["1", "x"], &["22", "héllo"]], None),
            "┌────┬───────┐\n\
             │ A  ┆ Bee   │\n\
             ╞════╪═══════╡\n\
             │ 1  ┆ x     │\n\
             │ 22 ┆ héllo │\n\
             └────┴───────┘\n"
        );
    }

    #[test]
    fn rows_after_the_layout_wrap_instead_of_being_cut() {
        let mut rows: Vec<Vec<&str>> = vec![vec!["1", "x"]; LAYOUT_ROWS];
        rows.push(vec!["2", "abcdefgh"]);
        let rows: Vec<&[&str]> = rows.iter().map(Vec::as_slice).collect();
        let text = render(&rows, None);
        assert!(
            text.ends_with("│ 2 ┆ abc │\n│   ┆ def │\n│   ┆ gh  │\n└───┴─────┘\n"),
            "{text}"
        );
    }

    #[test]
    fn fits_a_terminal() {
        let text = render(&[&["1", "a long cell of text"]], Some(20));
        assert!(text.lines().all(|l| line_width(l) <= 20), "{text}");
        assert!(text.contains("a long"), "{text}");
    }
}
