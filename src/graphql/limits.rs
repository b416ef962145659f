//! Limits checked on the parsed query, before anything runs: nesting depth (a limit of
//! its own for introspection, so the standard introspection queries pass while deeper
//! ones do not) and complexity (set on the schema, introspection fields included).
//! `graphql::documents` applies the depth check to every document it parses, for HTTP
//! and WebSocket operations alike.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, ServerError, ServerResult};

/// Deepest nesting of fields a query may have (leaf fields counted).
pub const MAX_DEPTH: usize = 12;
/// Deepest nesting under `__schema` or `__type` (counting those and leaf fields):
/// graphql-js's `getIntrospectionQuery()` and GraphiQL's nest 15 levels.
pub const MAX_INTROSPECTION_DEPTH: usize = 16;
/// Highest complexity (fields, with lists weighted by their page size) a query may have.
pub const MAX_COMPLEXITY: usize = 5_000;
/// Deepest nesting of brackets (`{`, `[`, `(`) in a document's text, checked before it
/// is parsed: selections, arguments and list or object literals all count.
pub const MAX_NESTING: usize = 64;

/// Refuses a document whose brackets nest deeper than MAX_NESTING, before the parser
/// (which recurses once per level) sees it. Brackets inside strings, block strings and
/// comments do not count.
pub fn check_nesting(text: &str) -> ServerResult<()> {
    let bytes = text.as_bytes();
    let (mut depth, mut deepest, mut at) = (0usize, 0usize, 0usize);
    // Set once a `"""` was found with no end: the parser then reads it as strings
    // (`""` and `"...`), and so does this scan from there on (never mistaking the rest of
    // the document for a block string, and never scanning for an end again).
    let mut unterminated_block = false;
    while at < bytes.len() {
        match bytes[at] {
            b'#' => {
                while at < bytes.len() && bytes[at] != b'\n' && bytes[at] != b'\r' {
                    at += 1;
                }
            }
            b'"' if !unterminated_block && bytes[at..].starts_with(b"\"\"\"") => {
                match block_string_end(bytes, at + 3) {
                    Some(end) => at = end + 2,
                    None => {
                        unterminated_block = true;
                        continue;
                    }
                }
            }
            b'"' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' && bytes[at] != b'\n' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
                if deepest > MAX_NESTING {
                    return Err(too_deep(format!(
                        "the document nests brackets more than {MAX_NESTING} levels deep"
                    )));
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        at += 1;
    }
    Ok(())
}

/// Where the block string whose text starts at `from` ends (its closing `"""`), if
/// anywhere; `\"""` inside is text.
fn block_string_end(bytes: &[u8], mut from: usize) -> Option<usize> {
    while from < bytes.len() {
        if bytes[from..].starts_with(b"\"\"\"") {
            return Some(from);
        }
        from += if bytes[from..].starts_with(b"\\\"\"\"") {
            4
        } else {
            1
        };
    }
    None
}

/// The deepest paths of a selection: through ordinary fields, and through introspection.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
struct Depths {
    regular: usize,
    introspection: usize,
}

impl Depths {
    fn max(self, other: Depths) -> Depths {
        Depths {
            regular: self.regular.max(other.regular),
            introspection: self.introspection.max(other.introspection),
        }
    }
}

/// Refuses a document nesting fields deeper than MAX_DEPTH, or introspection deeper
/// than MAX_INTROSPECTION_DEPTH.
pub fn check_depth(document: &ExecutableDocument) -> ServerResult<()> {
    let depths = document_depths(document);
    if depths.regular > MAX_DEPTH {
        return Err(too_deep(format!(
            "the query nests {} levels deep; at most {MAX_DEPTH} are allowed",
            depths.regular
        )));
    }
    if depths.introspection > MAX_INTROSPECTION_DEPTH {
        return Err(too_deep(format!(
            "the introspection query nests {} levels deep; at most {MAX_INTROSPECTION_DEPTH} are allowed",
            depths.introspection
        )));
    }
    Ok(())
}

/// The deepest paths of any operation of `document`.
fn document_depths(document: &ExecutableDocument) -> Depths {
    document
        .operations
        .iter()
        .map(|(_, operation)| {
            selection_depths(
                &operation.node.selection_set.node,
                &document.fragments,
                &mut HashSet::new(),
            )
        })
        .fold(Depths::default(), Depths::max)
}

fn too_deep(message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", "BAD_USER_INPUT");
    error
}

fn is_introspection_root(name: &str) -> bool {
    name == "__schema" || name == "__type"
}

fn selection_depths(
    selection_set: &SelectionSet,
    fragments: &HashMap<Name, Positioned<FragmentDefinition>>,
    visiting: &mut HashSet<Name>,
) -> Depths {
    selection_set
        .items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) => {
                let below = selection_depths(&field.node.selection_set.node, fragments, visiting);
                if is_introspection_root(field.node.name.node.as_str()) {
                    Depths {
                        regular: 0,
                        introspection: 1 + below.regular.max(below.introspection),
                    }
                } else {
                    Depths {
                        regular: 1 + below.regular,
                        introspection: if below.introspection > 0 {
                            1 + below.introspection
                        } else {
                            0
                        },
                    }
                }
            }
            Selection::InlineFragment(fragment) => {
                selection_depths(&fragment.node.selection_set.node, fragments, visiting)
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                // A fragment cycle is invalid; validation reports it.
                match fragments.get(name) {
                    Some(fragment) if visiting.insert(name.clone()) => {
                        let depths = selection_depths(
                            &fragment.node.selection_set.node,
                            fragments,
                            visiting,
                        );
                        visiting.remove(name);
                        depths
                    }
                    _ => Depths::default(),
                }
            }
        })
        .fold(Depths::default(), Depths::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// graphql-js 16's `getIntrospectionQuery({ descriptions: true, ... })`, as Apollo's
    /// tooling and GraphiQL send it (e2e/ runs the real one against the server).
    const GRAPHQL_JS_INTROSPECTION: &str = "query IntrospectionQuery { __schema { description queryType { name kind } mutationType { name kind } subscriptionType { name kind } types { ...FullType } directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } } } }
fragment FullType on __Type { kind name description specifiedByURL fields(includeDeprecated: true) { name description args(includeDeprecated: true) { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason } inputFields(includeDeprecated: true) { ...InputValue } interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue isDeprecated deprecationReason }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } } }";

    fn depths(query: &str) -> Depths {
        document_depths(&async_graphql::parser::parse_query(query).unwrap())
    }

    fn nested_introspection(levels: usize) -> String {
        // __schema { types { fields { type { ofType { ... name } } } } }
        let mut inner = "name".to_string();
        for _ in 0..levels.saturating_sub(5) {
            inner = format!("ofType {{ {inner} }}");
        }
        format!("{{ __schema {{ types {{ fields {{ type {{ {inner} }} }} }} }} }}")
    }

    #[test]
    fn the_standard_introspection_query_is_fifteen_deep_and_passes() {
        assert_eq!(
            depths(GRAPHQL_JS_INTROSPECTION),
            Depths {
                regular: 0,
                introspection: 15
            }
        );
        let document = async_graphql::parser::parse_query(GRAPHQL_JS_INTROSPECTION).unwrap();
        assert!(check_depth(&document).is_ok());
    }

    #[test]
    fn introspection_deeper_than_sixteen_is_refused() {
        for (levels, allowed) in [(16, true), (17, false), (20, false)] {
            let query = nested_introspection(levels);
            assert_eq!(depths(&query).introspection, levels, "{query}");
            let document = async_graphql::parser::parse_query(&query).unwrap();
            match check_depth(&document) {
                Ok(()) => assert!(allowed, "{levels} levels passed"),
                Err(error) => {
                    assert!(!allowed, "{levels} levels refused");
                    assert_eq!(
                        error.message,
                        format!(
                            "the introspection query nests {levels} levels deep; at most 16 are allowed"
                        )
                    );
                }
            }
        }
    }

    #[test]
    fn brackets_nested_too_deep_are_refused_before_parsing() {
        let nested = |depth: usize| {
            format!(
                "{{ user(id: {}1{}) {{ id }} }}",
                "[".repeat(depth),
                "]".repeat(depth)
            )
        };
        assert!(check_nesting(&nested(62)).is_ok());
        let error = check_nesting(&nested(63)).unwrap_err();
        assert_eq!(
            error.message,
            "the document nests brackets more than 64 levels deep"
        );
        assert!(check_nesting(&nested(100_000)).is_err());
        // Brackets in strings, block strings and comments are text, not nesting.
        let quoted = format!(
            "{{ a(s: \"{0}\\\"{0}\", b: \"\"\"{0}\\\"\"\"{0}\"\"\") # {0}\n {{ id }} }}",
            "[".repeat(100)
        );
        assert!(check_nesting(&quoted).is_ok(), "{quoted}");
        assert!(check_nesting(GRAPHQL_JS_INTROSPECTION).is_ok());
        // A `"""` that never ends is no block string: the parser reads `""""` as two
        // empty strings and goes on to the brackets after it (the fuzzer's stack
        // overflow), so they count.
        let unterminated = format!(
            "{{ a(b: [\"\"\"\"], c: {}1{}) {{ id }} }}",
            "[".repeat(100),
            "]".repeat(100)
        );
        assert!(check_nesting(&unterminated).is_err(), "{unterminated}");
        assert!(async_graphql::parser::parse_query("{ a(b: [\"\"\"\"]) }").is_ok());
    }

    #[test]
    fn a_fragment_spread_counts_where_it_is_used() {
        let query = "{ me { ...F } __type(name: \"User\") { fields { name } } } fragment F on User { characters { id } }";
        assert_eq!(
            depths(query),
            Depths {
                regular: 3,
                introspection: 3
            }
        );
    }
}
