//! Proto comments turned into rustdoc text that cannot break `cargo test`.
//!
//! Generated code lives in the consumer's crate, so rustdoc runs its code blocks as doctests.
//! Proto comments are not Rust: every fenced block becomes ```` ```text ```` and no line keeps
//! enough indentation to form an indented code block. Brackets and bare URLs are escaped so
//! rustdoc does not read them as (broken) intra-doc links.

use prost_build::Comments;

/// The doc lines (without `///`) for an item's leading and trailing proto comments.
pub(crate) fn doc_lines(comments: &Comments) -> Vec<String> {
    let mut lines = sanitize_block(&comments.leading);
    let trailing = sanitize_block(&comments.trailing);
    if !lines.is_empty() && !trailing.is_empty() {
        lines.push(String::new());
    }
    lines.extend(trailing);
    lines
}

/// An open fenced code block: its fence character and length.
struct Fence {
    ch: char,
    len: usize,
}

fn sanitize_block(raw: &[String]) -> Vec<String> {
    let expanded: Vec<String> = raw.iter().map(|l| expand_leading_tabs(l)).collect();
    let common = expanded
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| indent_of(l))
        .min()
        .unwrap_or(0);
    let mut out = Vec::with_capacity(expanded.len() + 1);
    // Only top-level fences are tracked: their end is unambiguous. A fence inside a list or
    // block quote is relabelled `text` but its lines stay in prose mode, which is safe whatever
    // markdown decides about where the container ends.
    let mut fence: Option<Fence> = None;
    for line in &expanded {
        let line = line.get(common..).unwrap_or("").trim_end();
        if let Some(open) = &fence {
            if closes(line, open) {
                fence = None;
            }
            out.push(line.to_owned());
            continue;
        }
        let line = cap_indent(line);
        let prefix = container_prefix_len(&line);
        let (head, content) = line.split_at(prefix);
        if let Some(open) = opens(content) {
            out.push(format!("{head}{}text", fence_str(&open)));
            if head.trim().is_empty() {
                fence = Some(open);
            }
        } else {
            out.push(escape_inline(&line));
        }
    }
    if let Some(open) = fence {
        out.push(fence_str(&open));
    }
    // Leading and trailing blank lines only add noise.
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    let first = out.iter().position(|l| !l.is_empty()).unwrap_or(out.len());
    out.drain(..first);
    out
}

fn expand_leading_tabs(line: &str) -> String {
    let rest = line.trim_start_matches([' ', '\t']);
    let lead = &line[..line.len() - rest.len()];
    let mut out = lead.replace('\t', "    ");
    out.push_str(rest);
    out
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Caps indentation below the 4 spaces that make an indented code block, also after
/// block-quote (`>`) and list (`-`, `*`, `+`, `1.`) markers.
fn cap_indent(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    let mut max_spaces = 3;
    loop {
        let trimmed = rest.trim_start_matches([' ', '\t']);
        let spaces = (rest.len() - trimmed.len()).min(max_spaces);
        out.extend(std::iter::repeat_n(' ', spaces));
        rest = trimmed;
        let marker_len = container_marker_len(rest);
        if marker_len == 0 {
            break;
        }
        out.push_str(&rest[..marker_len]);
        rest = &rest[marker_len..];
        // One space belongs to the marker; three more stay below the code-block threshold.
        max_spaces = 4;
    }
    out.push_str(rest);
    out
}

/// Length of a block-quote or list marker at the start of `s` (which must be followed by a
/// space or end the line to count), or 0.
fn container_marker_len(s: &str) -> usize {
    let followed_ok = |len: usize| s[len..].is_empty() || s[len..].starts_with([' ', '\t']);
    if s.starts_with('>') {
        return 1;
    }
    if s.starts_with(['-', '*', '+']) && followed_ok(1) {
        return 1;
    }
    let digits = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if (1..=9).contains(&digits) && s[digits..].starts_with(['.', ')']) && followed_ok(digits + 1) {
        return digits + 1;
    }
    0
}

fn fence_str(fence: &Fence) -> String {
    std::iter::repeat_n(fence.ch, fence.len).collect()
}

/// Length of the indentation and container markers that start `line`.
fn container_prefix_len(line: &str) -> usize {
    let mut rest = line;
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        let marker_len = container_marker_len(rest);
        if marker_len == 0 {
            return line.len() - rest.len();
        }
        rest = &rest[marker_len..];
    }
}

/// The fence that `content` (a line without its indentation) opens, if it is one.
fn opens(content: &str) -> Option<Fence> {
    let ch = content.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = content.len() - content.trim_start_matches(ch).len();
    // A backtick fence's info string cannot contain backticks (then it is inline code).
    let info = &content[len..];
    (len >= 3 && !(ch == '`' && info.contains('`'))).then_some(Fence { ch, len })
}

/// Whether `line` closes the top-level fence `open` (CommonMark: at most 3 spaces of
/// indentation, at least as many fence characters, nothing after them).
fn closes(line: &str, open: &Fence) -> bool {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return false;
    }
    let len = trimmed.len() - trimmed.trim_start_matches(open.ch).len();
    len >= open.len && trimmed[len..].trim().is_empty()
}

/// Escapes brackets that are not markdown links and wraps bare URLs in `<...>`, leaving
/// inline code spans untouched.
fn escape_inline(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut i = 0;
    while i < line.len() {
        let rest = &line[i..];
        if rest.starts_with('`') {
            let ticks = rest.len() - rest.trim_start_matches('`').len();
            if let Some(end) = code_span_end(rest, ticks) {
                out.push_str(&rest[..end]);
                i += end;
            } else {
                out.push_str(&rest[..ticks]);
                i += ticks;
            }
            continue;
        }
        if rest.starts_with("http://") || rest.starts_with("https://") {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == ')' || c == '>')
                .unwrap_or(rest.len());
            // Sentence punctuation after a URL is not part of it.
            let len = rest[..end]
                .trim_end_matches(['.', ',', ';', ':', '!', '?'])
                .len();
            if out.ends_with(['<', '(']) {
                out.push_str(&rest[..len]);
            } else {
                out.push('<');
                out.push_str(&rest[..len]);
                out.push('>');
            }
            i += len;
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        match c {
            '\\' => {
                // Keep an existing escape together with the escaped character.
                let n = rest.chars().nth(1).map_or(0, char::len_utf8);
                out.push_str(&rest[..1 + n]);
                i += 1 + n;
                continue;
            }
            '[' => {
                if let Some(close) = rest.find(']') {
                    let after = &rest[close + 1..];
                    if after.starts_with(['(', '[']) {
                        // A real markdown link: keep the text part as written.
                        out.push_str(&rest[..=close]);
                    } else {
                        out.push_str("\\[");
                        out.push_str(&escape_inline(&rest[1..close]));
                        out.push_str("\\]");
                    }
                    i += close + 1;
                    continue;
                }
                out.push_str("\\[");
            }
            ']' => out.push_str("\\]"),
            _ => out.push(c),
        }
        i += c.len_utf8();
    }
    out
}

/// End (exclusive) of an inline code span that opens with `ticks` backticks at the start of
/// `s`, if a closing run of exactly that many backticks exists.
fn code_span_end(s: &str, ticks: usize) -> Option<usize> {
    let mut pos = ticks;
    while pos < s.len() {
        let rel = s[pos..].find('`')?;
        let start = pos + rel;
        let run = s[start..].len() - s[start..].trim_start_matches('`').len();
        if run == ticks {
            return Some(start + run);
        }
        pos = start + run;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    fn docs(leading: &str, trailing: &str) -> Vec<String> {
        doc_lines(&Comments {
            leading_detached: Vec::new(),
            leading: lines(leading),
            trailing: lines(trailing),
        })
    }

    #[test]
    fn sanitizes_comment_text() {
        let cases: &[(&str, &[&str])] = &[
            (" Gets a user.", &["Gets a user."]),
            (" First.\n\n Second.", &["First.", "", "Second."]),
            // Indented code would become a doctest: indentation is capped at 3 spaces.
            (
                " Example:\n\n     let x = 1;",
                &["Example:", "", "   let x = 1;"],
            ),
            ("\tTabbed:\n\n\t\tcode", &["Tabbed:", "", "   code"]),
            // Fences become text blocks; their content keeps its indentation.
            (
                " ```\n fn main() {\n     x\n }\n ```",
                &["```text", "fn main() {", "    x", "}", "```"],
            ),
            (" ```rust\n let x;\n ```", &["```text", "let x;", "```"]),
            (" ~~~~proto\n a\n ~~~~", &["~~~~text", "a", "~~~~"]),
            // An unclosed fence is closed so the generated text after it stays prose.
            (" ```\n open", &["```text", "open", "```"]),
            // Markers followed by too much space would start code blocks too.
            (">       quoted code", &[">    quoted code"]),
            ("-      listed code", &["-    listed code"]),
            ("12.      listed code", &["12.    listed code"]),
            // Brackets and URLs.
            (" See [optional].", &["See \\[optional\\]."]),
            (" A [link](https://x.y/z).", &["A [link](https://x.y/z)."]),
            (" Docs: https://x.y/z.", &["Docs: <https://x.y/z>."]),
            // Fences inside containers are relabelled but not tracked.
            (
                "> ```rust\n> let x = [1];\n> ```",
                &["> ```text", "> let x = \\[1\\];", "> ```text"],
            ),
            (" Already <https://x.y>.", &["Already <https://x.y>."]),
            (
                " Code `a[0]` and ``b ` [c]``.",
                &["Code `a[0]` and ``b ` [c]``."],
            ),
            (" Escaped \\[x\\] stays.", &["Escaped \\[x\\] stays."]),
            (" Lone ] and [ bracket", &["Lone \\] and \\[ bracket"]),
            (" ünïcode [ñ]", &["ünïcode \\[ñ\\]"]),
            ("\n\n Trimmed.\n\n", &["Trimmed."]),
            ("", &[]),
        ];
        for (input, expected) in cases {
            assert_eq!(docs(input, ""), *expected, "input {input:?}");
        }
    }

    #[test]
    fn trailing_comments_follow_leading_ones() {
        assert_eq!(docs(" Lead.", " Trail."), ["Lead.", "", "Trail."]);
        assert_eq!(docs("", " Trail."), ["Trail."]);
    }
}
