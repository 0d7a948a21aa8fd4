//! Text templates such as `"deposit {amount}"` or `"Current balance: {balance|null}"`.
//!
//! A placeholder `{name}` names a top-level field; `{name|text}` also says what to
//! write when the field cannot be shown. A template whose placeholder cannot be shown
//! and has no `|text` does not render at all, so the next alternative is tried, then
//! the caller's fallback (the spec-wide template or the default text). This keeps a
//! half-filled label such as `"deposit "` out of the table: an event gets a label its
//! author wrote or the default, never a broken one.

use serde_json::Value;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field {
        name: String,
        fallback: Option<String>,
    },
}

/// A parsed template: one or more alternatives, tried in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    alternatives: Vec<Vec<Part>>,
}

impl Template {
    /// Parses a template with one alternative. `{{` and `}}` are literal braces. The
    /// error says what is wrong and at which character (1-based), for the spec error
    /// to quote.
    pub(crate) fn parse(text: &str) -> Result<Template, String> {
        Ok(Template {
            alternatives: vec![parse_parts(text)?],
        })
    }

    /// A template trying `alternatives` in order.
    pub(crate) fn first_of(alternatives: Vec<Template>) -> Template {
        Template {
            alternatives: alternatives
                .into_iter()
                .flat_map(|t| t.alternatives)
                .collect(),
        }
    }

    /// Renders the first alternative whose fields can all be shown, asking `resolve`
    /// for the text of each field. `None` when no alternative renders.
    pub(crate) fn render(&self, resolve: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        self.alternatives
            .iter()
            .find_map(|parts| render_parts(parts, resolve))
    }
}

fn parse_parts(text: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                chars.next();
                literal.push('}');
            }
            '}' => {
                return Err(format!(
                    "unmatched \"}}\" at character {} (write \"}}}}\" for a literal brace)",
                    i + 1
                ));
            }
            '{' => {
                let mut inside = String::new();
                loop {
                    match chars.next() {
                        None => {
                            return Err(format!(
                                "unclosed \"{{\" at character {} (write \"{{{{\" for a literal brace)",
                                i + 1
                            ));
                        }
                        Some((_, '}')) => break,
                        Some((j, '{')) => {
                            return Err(format!(
                                "\"{{\" inside a placeholder at character {}",
                                j + 1
                            ));
                        }
                        Some((_, c)) => inside.push(c),
                    }
                }
                let (name, fallback) = match inside.split_once('|') {
                    Some((name, fallback)) => (name.to_owned(), Some(fallback.to_owned())),
                    None => (inside, None),
                };
                if name.is_empty() {
                    return Err(format!(
                        "empty placeholder at character {} (write a field name, e.g. \"{{amount}}\")",
                        i + 1
                    ));
                }
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(Part::Field { name, fallback });
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Text(literal));
    }
    Ok(parts)
}

/// Renders one alternative; `None` when a field cannot be shown and its placeholder
/// has no fallback.
fn render_parts(parts: &[Part], resolve: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Text(text) => out.push_str(text),
            Part::Field { name, fallback } => {
                out.push_str(&resolve(name).or_else(|| fallback.clone())?);
            }
        }
    }
    Some(out)
}

/// How a field's value reads inside a template: strings without quotes, anything else
/// as compact JSON.
pub(crate) fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(template: &str, fields: Value, expected: Result<Option<&str>, &str>) {
        let got =
            Template::parse(template).map(|t| t.render(&|name| fields.get(name).map(text_of)));
        let expected = expected
            .map(|o| o.map(str::to_owned))
            .map_err(str::to_owned);
        assert_eq!(got, expected, "template {template:?} over {fields}");
    }

    #[test]
    fn renders_fields_fallbacks_and_braces() {
        let fields = json!({"type": "deposit", "amount": 100, "note": "rent", "ok": true});
        check("{type} {amount}", fields.clone(), Ok(Some("deposit 100")));
        check("{note}: {ok}", fields.clone(), Ok(Some("rent: true")));
        check("plain", fields.clone(), Ok(Some("plain")));
        check(
            "{{literal}} {type}",
            fields.clone(),
            Ok(Some("{literal} deposit")),
        );
        check("{missing}", fields.clone(), Ok(None));
        check("x {missing|none} y", fields.clone(), Ok(Some("x none y")));
        check("x{missing|}y", fields.clone(), Ok(Some("xy")));
        check("{type|other}", fields.clone(), Ok(Some("deposit")));
        check("née {type}", fields.clone(), Ok(Some("née deposit")));
        check(
            "deposit {amount",
            fields.clone(),
            Err("unclosed \"{\" at character 9 (write \"{{\" for a literal brace)"),
        );
        check(
            "a } b",
            fields.clone(),
            Err("unmatched \"}\" at character 3 (write \"}}\" for a literal brace)"),
        );
        check(
            "{}",
            fields.clone(),
            Err("empty placeholder at character 1 (write a field name, e.g. \"{amount}\")"),
        );
        let chain = Template::first_of(vec![
            Template::parse("{event} {userId}").unwrap(),
            Template::parse("{event|event}").unwrap(),
        ]);
        let render = |fields: Value| chain.render(&|name| fields.get(name).map(text_of));
        assert_eq!(
            render(json!({"event": "E", "userId": 7})),
            Some("E 7".into())
        );
        assert_eq!(render(json!({"event": "E"})), Some("E".into()));
        assert_eq!(render(json!({})), Some("event".into()));
        check(
            "{a{b}}",
            fields,
            Err("\"{\" inside a placeholder at character 3"),
        );
    }
}
