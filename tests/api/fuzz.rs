//! Random requests at the HTTP layer: bytes (invalid UTF-8 too), JSON (huge numbers
//! like 1e400 and 2^70 as literal text, lists nested up to 200 deep), GraphQL documents
//! (token soup, grammar-shaped, and the schema's own fields with random arguments) with
//! random variables and operation names, operations of the schema with random
//! variables, batches, GET query strings; with random Content-Type, Accept and
//! Authorization headers. The bar, after every case: no 5xx, and no GraphQL error with
//! the code INTERNAL_SERVER_ERROR (a server fault answered with a 200); no panic on
//! the server's threads; the server still runs and answers `{ xpRewards { xp } }` as
//! before. Which 4xx the server answers is not checked (GraphQL over HTTP decides it).
//!
//! One server for the whole test; proptest's runner drives it from a plain `#[test]`
//! (its cases are synchronous), on a runtime of the test's own whose threads carry a
//! name, so that a panic hook counts the server's panics, even those tokio catches.
//! A failure prints the smallest failing request and the seed;
//! `PROPTEST_RNG_SEED=<seed>` replays the run.
//!
//! Two server bugs it found have tests of their own in `hardening.rs`: a NUL character
//! in a text that reaches PostgreSQL, and literals nested thousands deep.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use serde_json::{Value, json};

use crate::common::{TestApp, TestUser};

/// The name of the test runtime's threads: the server runs on them.
const SERVER_THREADS: &str = "fuzzed-server";
static SERVER_PANICS: AtomicUsize = AtomicUsize::new(0);

/// Names of the schema, so that random documents reach resolvers and arguments.
#[rustfmt::skip]
const NAMES: &[&str] = &[
    "me", "user", "story", "stories", "xpRewards", "achievements", "notifications",
    "leaderboard", "id", "username", "email", "experiencePoints", "level", "xpForNextLevel",
    "xpProgress", "xpProgressPercentage", "xpHistory", "characters", "title", "content",
    "author", "published", "likeCount", "comments", "body", "createdAt", "edges", "node",
    "nodes", "cursor", "pageInfo", "hasNextPage", "endCursor", "xp", "action",
    "description", "key", "name", "earnedAt", "rank", "xpGained", "reason", "first",
    "after", "authorId", "scope", "unreadOnly", "input", "ids", "storyId", "userId",
    "amount", "notify", "signUp", "logIn", "createStory", "publishStory", "likeStory",
    "unlikeStory", "readStory", "deleteStory", "commentOnStory", "createCharacter",
    "addFriend", "removeFriend", "inviteCollaborator", "acceptCollaboration",
    "completeCollaboration", "awardXp", "markNotificationsRead", "levelUps", "token",
    "password", "login", "xpEarned", "totalXp", "leveledUp", "status", "__typename",
    "__schema", "__type", "types", "kind", "fields", "ofType", "GLOBAL", "FRIENDS",
    "CUSTOM", "STORY_LIKED", "User", "Story", "Query", "Mutation", "String", "Int", "ID",
    "Boolean", "Float", "SignUpInput", "CreateStoryInput", "AwardXpInput",
    "LeaderboardScope", "XpAction", "skip", "include", "if", "deprecated", "specifiedBy",
];

/// Numbers no 64-bit integer or double holds exactly, or none at all.
const AWKWARD_NUMBERS: &[&str] = &[
    "1e400",
    "-1e400",
    "1e-400",
    "1180591620717411303424", // 2^70
    "-1180591620717411303424",
    "9223372036854775808", // i64::MAX + 1
    "-9223372036854775809",
    "18446744073709551616", // u64::MAX + 1
    "2147483648",           // i32::MAX + 1
    "-2147483649",
    "-0",
    "0.0",
    "1.7976931348623157e309",
    "123456789012345678901234567890.5",
    "4.9e-325",
    "1E+2",
    "10000000000000000000000000000000000000000000000000000000000000000000000000000",
];

/// Strings resolvers may take for ids, cursors, names or enum values.
const PLAUSIBLE_STRINGS: &[&str] = &[
    "1",
    "2",
    "0",
    "-1",
    "abc",
    "9223372036854775807",
    "9223372036854775808",
    "1e3",
    " 1",
    "",
    "GLOBAL",
    "FRIENDS",
    "CUSTOM",
    "STORY_LIKED",
    "MQ==",
    "Y3Vyc29yOjE=",
    "bogus!",
    "fuzzer",
    "fuzzer@example.com",
    "correct horse",
    "Europe/Berlin",
];

/// Strings JSON and GraphQL parsers find hard: lone surrogates, NUL, bad escapes.
const AWKWARD_STRINGS: &[&str] = &[
    r#""\ud800""#,
    r#""\udc00\ud800""#,
    r#""\x41""#,
    r#""\u12""#,
    r#""unterminated"#,
    "\"\u{feff}\u{202e}\u{fffd}\"",
    "\"\u{10ffff}\"",
    r#""""""#,
    r#""""block \""" string""""#,
];

const CONTENT_TYPES: &[&str] = &[
    "application/json; charset=utf-8",
    "application/graphql-response+json",
    "APPLICATION/JSON",
    "application/json; charset=latin1",
    "application/jsonx",
    "text/plain",
    "text/plain; charset=utf-8",
    "application/graphql",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "",
    ";",
    "application/",
];

const ACCEPTS: &[&str] = &[
    "application/json",
    "application/graphql-response+json",
    "application/graphql-response+json, application/json;q=0.9",
    "text/html",
    "*/*",
    "image/png",
    "text/event-stream",
    "multipart/mixed",
    "",
];

/// Operations of the schema taking variables, run with random ones. Each also runs
/// once with valid variables first, so that the query documents take the path of
/// documents already validated (async-graphql's Fast mode) too.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "query($id: ID!) { user(id: $id) { id username level xpProgressPercentage } }",
        r#"{"id": "1"}"#,
    ),
    (
        "query($first: Int, $after: String, $authorId: ID) { stories(first: $first, after: $after, authorId: $authorId) { edges { cursor node { id title likeCount author { username } } } pageInfo { hasNextPage endCursor } } }",
        r#"{"first": 2}"#,
    ),
    (
        "query($scope: LeaderboardScope!, $first: Int!) { leaderboard(scope: $scope, first: $first) { rank experiencePoints user { username } } }",
        r#"{"scope": "GLOBAL", "first": 3}"#,
    ),
    (
        "query($first: Int, $after: String, $unread: Boolean) { notifications(first: $first, after: $after, unreadOnly: $unread) { nodes { id level } pageInfo { endCursor } } }",
        r#"{}"#,
    ),
    (
        "query($first: Int, $after: String) { me { xpHistory(first: $first, after: $after) { nodes { action xpGained } pageInfo { endCursor } } } }",
        r#"{"first": 1}"#,
    ),
    (
        "query($id: ID!, $skip: Boolean!) { story(id: $id) { title comments @skip(if: $skip) { body } } }",
        r#"{"id": "1", "skip": false}"#,
    ),
    (
        "mutation($input: CreateStoryInput!) { createStory(input: $input) { story { id } xpEarned { xpGained } } }",
        r#"{"input": {"title": "Fuzz", "content": ""}}"#,
    ),
    (
        "mutation($id: ID!) { likeStory(id: $id) { story { likeCount } xpEarned { xpGained } } }",
        r#"{"id": "1"}"#,
    ),
    (
        "mutation($id: ID!, $body: String!) { commentOnStory(storyId: $id, body: $body) { comment { body } } }",
        r#"{"id": "1", "body": "hi"}"#,
    ),
    (
        "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) }",
        r#"{"ids": ["1", "2"]}"#,
    ),
    (
        "mutation($input: AwardXpInput!) { awardXp(input: $input) { totalXp } }",
        r#"{"input": {"userId": "1", "amount": 5}}"#,
    ),
    (
        "mutation($input: LogInInput!) { logIn(input: $input) { token } }",
        r#"{"input": {"login": "fuzzer", "password": "wrong horse"}}"#,
    ),
    (
        "mutation($user: ID!) { addFriend(userId: $user) { status } }",
        r#"{"user": "1"}"#,
    ),
];

/// Who the request claims to be.
#[derive(Clone, Debug)]
enum Caller {
    Anonymous,
    /// The signed-up fuzzer's valid token.
    Fuzzer,
    /// An `Authorization` header of any text.
    Header(String),
}

#[derive(Clone)]
enum Case {
    Post {
        content_type: Option<&'static str>,
        accept: Option<&'static str>,
        caller: Caller,
        body: Vec<u8>,
    },
    Get {
        accept: Option<&'static str>,
        caller: Caller,
        websocket: bool,
        query: String,
    },
}

impl fmt::Debug for Case {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |text: &[u8]| {
            let text = String::from_utf8_lossy(text);
            let mut shown: String = text.chars().take(4000).collect();
            if shown.len() < text.len() {
                shown.push_str(&format!("... ({} bytes)", text.len()));
            }
            shown
        };
        match self {
            Case::Post {
                content_type,
                accept,
                caller,
                body,
            } => write!(
                formatter,
                "POST /graphql, Content-Type {content_type:?}, Accept {accept:?}, {caller:?}, body {:?} (bytes: {:?})",
                shown(body),
                &body[..body.len().min(200)]
            ),
            Case::Get {
                accept,
                caller,
                websocket,
                query,
            } => write!(
                formatter,
                "GET /graphql?{}, Accept {accept:?}, {caller:?}, websocket upgrade {websocket}",
                shown(query.as_bytes())
            ),
        }
    }
}

// ---- Strategies -------------------------------------------------------------------

fn awkward_number() -> impl Strategy<Value = String> {
    prop::sample::select(AWKWARD_NUMBERS).prop_map(str::to_string)
}

fn json_string() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => any::<String>().prop_map(|text| Value::String(text).to_string()),
        1 => prop::sample::select(PLAUSIBLE_STRINGS)
            .prop_map(|text| Value::String(text.to_string()).to_string()),
    ]
}

/// A JSON scalar that serde_json reads.
fn valid_json_leaf() -> BoxedStrategy<String> {
    prop_oneof![
        2 => Just("null".to_string()),
        2 => any::<bool>().prop_map(|value| value.to_string()),
        3 => any::<i64>().prop_map(|value| value.to_string()),
        2 => (-3i64..120).prop_map(|value| value.to_string()),
        1 => any::<f64>().prop_map(|value| Value::from(value).to_string()),
        6 => json_string(),
    ]
    .boxed()
}

/// A scalar that is not quite JSON, or not a number serde_json holds (without its
/// arbitrary precision): huge numbers, NaN and inf, lone surrogates, bad escapes.
fn awkward_json_leaf() -> BoxedStrategy<String> {
    prop_oneof![
        2 => awkward_number(),
        1 => any::<f64>().prop_map(|value| value.to_string()),
        2 => prop::sample::select(AWKWARD_STRINGS).prop_map(str::to_string),
    ]
    .boxed()
}

/// JSON text, as a tree of literal texts: numbers stay exactly as written.
fn json_tree(leaf: BoxedStrategy<String>) -> impl Strategy<Value = String> {
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6)
                .prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec((json_string(), inner), 0..6).prop_map(|fields| {
                let fields: Vec<String> = fields
                    .into_iter()
                    .map(|(key, value)| format!("{key}:{value}"))
                    .collect();
                format!("{{{}}}", fields.join(","))
            }),
        ]
    })
}

/// JSON that serde_json reads.
fn json_text() -> impl Strategy<Value = String> {
    json_tree(valid_json_leaf())
}

/// `[[[ ... leaf ... ]]]`, up to 200 deep (serde_json refuses beyond 128).
fn deep_json_list() -> impl Strategy<Value = String> {
    (1usize..=200, valid_json_leaf())
        .prop_map(|(depth, leaf)| format!("{}{leaf}{}", "[".repeat(depth), "]".repeat(depth)))
}

/// JSON of every kind: valid, with awkward scalars among valid ones, deep lists.
fn any_json() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => json_text(),
        2 => json_tree(prop_oneof![4 => valid_json_leaf(), 1 => awkward_json_leaf()].boxed()),
        1 => deep_json_list(),
    ]
}

/// A value for a variable: valid JSON mostly, sometimes any.
fn variable_value() -> impl Strategy<Value = String> {
    prop_oneof![12 => json_text(), 1 => any_json()]
}

/// A name of the schema, mostly, or any other valid GraphQL name.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(NAMES).prop_map(str::to_string),
        1 => "[_A-Za-z][_0-9A-Za-z]{0,8}",
    ]
}

/// A GraphQL literal (or variable), lists and objects nested.
fn graphql_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        4 => any::<i64>().prop_map(|value| value.to_string()),
        4 => (-3i64..120).prop_map(|value| value.to_string()),
        2 => any::<f64>().prop_map(|value| format!("{value:?}")),
        1 => awkward_number(),
        4 => any::<String>().prop_map(|text| Value::String(text).to_string()),
        6 => prop::sample::select(PLAUSIBLE_STRINGS)
            .prop_map(|text| Value::String(text.to_string()).to_string()),
        1 => prop::sample::select(AWKWARD_STRINGS).prop_map(str::to_string),
        4 => prop::sample::select(&["true", "false", "null", "GLOBAL", "FRIENDS", "CUSTOM"][..])
            .prop_map(str::to_string),
        2 => "\\$[a-z]{1,3}",
    ];
    leaf.prop_recursive(5, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5)
                .prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec((name(), inner), 0..5).prop_map(|fields| {
                let fields: Vec<String> = fields
                    .into_iter()
                    .map(|(key, value)| format!("{key}: {value}"))
                    .collect();
                format!("{{{}}}", fields.join(", "))
            }),
        ]
    })
}

/// `[[[ ... 1 ... ]]]` as a GraphQL literal, up to 10,000 deep (beyond 64 brackets the
/// server refuses the document before parsing it; thousands used to overflow the stack).
fn deep_graphql_list() -> impl Strategy<Value = String> {
    (1usize..=10_000).prop_map(|depth| format!("{}1{}", "[".repeat(depth), "]".repeat(depth)))
}

fn arguments() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            name(),
            prop_oneof![4 => graphql_value(), 1 => deep_graphql_list()],
        ),
        0..4,
    )
    .prop_map(|arguments| {
        if arguments.is_empty() {
            return String::new();
        }
        let arguments: Vec<String> = arguments
            .into_iter()
            .map(|(name, value)| format!("{name}: {value}"))
            .collect();
        format!("({})", arguments.join(", "))
    })
}

fn directives() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(&["skip", "include", "deprecated", "defer", "x"][..]),
            arguments(),
        ),
        0..2,
    )
    .prop_map(|directives| {
        directives
            .into_iter()
            .map(|(name, arguments)| format!(" @{name}{arguments}"))
            .collect()
    })
}

/// A field with optional alias, arguments and directives.
fn field() -> impl Strategy<Value = String> {
    (
        prop::option::weighted(0.2, name()),
        name(),
        prop_oneof![2 => Just(String::new()), 1 => arguments()],
        prop_oneof![3 => Just(String::new()), 1 => directives()],
    )
        .prop_map(|(alias, name, arguments, directives)| match alias {
            Some(alias) => format!("{alias}: {name}{arguments}{directives}"),
            None => format!("{name}{arguments}{directives}"),
        })
}

/// `{ ... }` with fields, fragment spreads and inline fragments, nested.
fn selection_set() -> impl Strategy<Value = String> {
    let selection = prop_oneof![
        6 => field(),
        1 => name().prop_map(|name| format!("...{name}")),
    ];
    selection
        .prop_recursive(8, 64, 5, |inner| {
            prop_oneof![
                3 => (field(), prop::collection::vec(inner.clone(), 0..5))
                    .prop_map(|(field, selections)| format!("{field} {{ {} }}", selections.join(" "))),
                1 => (prop::option::of(name()), prop::collection::vec(inner, 1..4))
                    .prop_map(|(on, selections)| match on {
                        Some(on) => format!("... on {on} {{ {} }}", selections.join(" ")),
                        None => format!("... {{ {} }}", selections.join(" ")),
                    }),
            ]
        })
        .prop_map(|selection| format!("{{ {selection} }}"))
}

fn variable_definitions() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            "[a-z]{1,3}",
            prop::sample::select(
                &[
                    "Int",
                    "Int!",
                    "ID!",
                    "[ID!]!",
                    "String",
                    "Boolean!",
                    "Float",
                    "CreateStoryInput!",
                    "AwardXpInput",
                    "LeaderboardScope",
                    "User",
                    "[[Int]]",
                    "Nope",
                ][..],
            ),
            prop::option::weighted(0.3, graphql_value()),
        ),
        0..4,
    )
    .prop_map(|definitions| {
        if definitions.is_empty() {
            return String::new();
        }
        let definitions: Vec<String> = definitions
            .into_iter()
            .map(|(name, ty, default)| match default {
                Some(default) => format!("${name}: {ty} = {default}"),
                None => format!("${name}: {ty}"),
            })
            .collect();
        format!("({})", definitions.join(", "))
    })
}

/// Operations and fragments made of the grammar's parts: many parse, some validate,
/// a few run.
fn structured_document() -> impl Strategy<Value = String> {
    let operation = (
        prop::sample::select(&["", "query", "mutation", "subscription"][..]),
        prop::option::of(name()),
        variable_definitions(),
        directives(),
        selection_set(),
    )
        .prop_map(|(kind, name, variables, directives, selections)| {
            if kind.is_empty() {
                return selections;
            }
            let name = name.unwrap_or_default();
            format!("{kind} {name}{variables}{directives} {selections}")
        });
    let fragment = (name(), name(), selection_set())
        .prop_map(|(name, on, selections)| format!("fragment {name} on {on} {selections}"));
    let nested = (1usize..=20, name()).prop_map(|(depth, name)| {
        let mut query = "id".to_string();
        for _ in 1..depth {
            query = format!("{name} {{ {query} }}");
        }
        format!("{{ {query} }}")
    });
    prop_oneof![
        4 => prop::collection::vec(prop_oneof![3 => operation, 1 => fragment], 1..3)
            .prop_map(|definitions| definitions.join("\n")),
        1 => nested,
    ]
}

/// The root fields, with their arguments and a selection of their type.
const QUERY_FIELDS: &[(&str, &[&str], &str)] = &[
    (
        "me",
        &[],
        "{ id username email level xpProgressPercentage achievements { key } xpHistory(first: 2) { nodes { action } } }",
    ),
    (
        "user",
        &["id"],
        "{ id username experiencePoints xpForNextLevel characters { name } }",
    ),
    (
        "story",
        &["id"],
        "{ id title published likeCount createdAt author { username } comments { body } }",
    ),
    (
        "stories",
        &["first", "after", "authorId"],
        "{ edges { cursor node { id title } } nodes { likeCount } pageInfo { hasNextPage endCursor } }",
    ),
    ("xpRewards", &[], "{ action xp description }"),
    ("achievements", &[], "{ key name earnedAt }"),
    (
        "notifications",
        &["first", "after", "unreadOnly"],
        "{ nodes { id type level read } pageInfo { endCursor } }",
    ),
    (
        "leaderboard",
        &["scope", "first"],
        "{ rank experiencePoints level user { username } }",
    ),
];

const MUTATION_FIELDS: &[(&str, &[&str], &str)] = &[
    ("signUp", &["input"], "{ token user { id } }"),
    ("logIn", &["input"], "{ token }"),
    (
        "createStory",
        &["input"],
        "{ story { id } xpEarned { xpGained } }",
    ),
    ("publishStory", &["id"], "{ story { published } }"),
    (
        "likeStory",
        &["id"],
        "{ story { likeCount } xpEarned { totalXp } }",
    ),
    ("unlikeStory", &["id"], "{ story { likeCount } }"),
    ("readStory", &["id"], "{ xpEarned { xpGained } }"),
    ("deleteStory", &["id"], "{ deletedStoryId }"),
    (
        "commentOnStory",
        &["storyId", "body"],
        "{ comment { body } }",
    ),
    ("createCharacter", &["input"], "{ character { name } }"),
    ("addFriend", &["userId"], "{ status }"),
    ("removeFriend", &["userId"], "{ user { id } }"),
    (
        "inviteCollaborator",
        &["storyId", "userId"],
        "{ story { id } }",
    ),
    ("acceptCollaboration", &["storyId"], "{ story { id } }"),
    (
        "completeCollaboration",
        &["storyId"],
        "{ xpEarned { xpGained } }",
    ),
    ("awardXp", &["input"], "{ totalXp }"),
    ("markNotificationsRead", &["ids"], ""),
];

/// The keys of each input object, by the field that takes it.
fn input_keys(field: &str) -> &'static [&'static str] {
    match field {
        "signUp" => &["username", "email", "password"],
        "logIn" => &["login", "password"],
        "createStory" => &["title", "content"],
        "createCharacter" => &["name", "description"],
        "awardXp" => &["userId", "action", "amount", "reason", "notify"],
        _ => &["title", "name", "userId"],
    }
}

/// A typed value, written as a GraphQL literal or as JSON (a variable's value).
#[derive(Clone, Debug)]
enum Literal {
    /// A number, `true`, `false`, `null` or a string in JSON syntax (which GraphQL
    /// reads the same).
    Scalar(String),
    Enum(&'static str),
    List(Vec<Literal>),
    Object(Vec<(&'static str, Literal)>),
}

impl Literal {
    fn graphql(&self) -> String {
        match self {
            Literal::Scalar(text) => text.clone(),
            Literal::Enum(name) => name.to_string(),
            Literal::List(items) => {
                let items: Vec<String> = items.iter().map(Literal::graphql).collect();
                format!("[{}]", items.join(", "))
            }
            Literal::Object(fields) => {
                let fields: Vec<String> = fields
                    .iter()
                    .map(|(key, value)| format!("{key}: {}", value.graphql()))
                    .collect();
                format!("{{{}}}", fields.join(", "))
            }
        }
    }

    fn json(&self) -> String {
        match self {
            Literal::Scalar(text) => text.clone(),
            Literal::Enum(name) => Value::String(name.to_string()).to_string(),
            Literal::List(items) => {
                let items: Vec<String> = items.iter().map(Literal::json).collect();
                format!("[{}]", items.join(","))
            }
            Literal::Object(fields) => {
                let fields: Vec<String> = fields
                    .iter()
                    .map(|(key, value)| format!("\"{key}\":{}", value.json()))
                    .collect();
                format!("{{{}}}", fields.join(","))
            }
        }
    }
}

fn scalar(text: impl ToString) -> Literal {
    Literal::Scalar(text.to_string())
}

fn string_literal(text: &str) -> Literal {
    Literal::Scalar(Value::String(text.to_string()).to_string())
}

/// Ids: of rows that exist, that do not, and texts that are no id at all.
fn id_literal() -> BoxedStrategy<Literal> {
    prop_oneof![
        3 => (1i64..6).prop_map(|n| string_literal(&n.to_string())),
        1 => prop::sample::select(&["0", "1", "-1", "99999999999", "9223372036854775808"][..])
            .prop_map(scalar),
        2 => prop::sample::select(PLAUSIBLE_STRINGS).prop_map(string_literal),
    ]
    .boxed()
}

/// Texts: any, plausible, and long ones around the limits (200, 10,000, 100,000).
fn text_literal() -> BoxedStrategy<Literal> {
    prop_oneof![
        3 => any::<String>().prop_map(|text| string_literal(&text)),
        2 => prop::sample::select(PLAUSIBLE_STRINGS).prop_map(string_literal),
        1 => (prop::sample::select(&["x", " ", "é", "✓"][..]), 0usize..10_200)
            .prop_map(|(unit, count)| string_literal(&unit.repeat(count))),
        // PostgreSQL's text cannot hold NUL: BAD_USER_INPUT, never a server error.
        1 => Just(string_literal("before\u{0}after")),
    ]
    .boxed()
}

/// A value of the type `field`'s `argument` (or an input object's key) has, mostly
/// well typed, for the resolver (not validation) to refuse when it must.
fn typed_literal(field: &'static str, argument: &'static str) -> BoxedStrategy<Literal> {
    match argument {
        "id" | "authorId" | "storyId" | "userId" | "user" => id_literal(),
        "first" | "amount" => prop_oneof![
            3 => (-5i64..150).prop_map(scalar),
            1 => (-2i64..10_002).prop_map(scalar),
            1 => prop::sample::select(&["2147483647", "-2147483648", "2147483648", "null"][..])
                .prop_map(scalar),
        ]
        .boxed(),
        "after" => prop_oneof![
            2 => text_literal(),
            // Cursors that decode (base64 of JSON) to something other than an id.
            1 => prop::sample::select(&["MQ==", "IjEi", "bnVsbA==", "LTE=", "OTk5OTk5OTk5OTk5OTk5OTk5OTk="][..])
                .prop_map(string_literal),
        ]
        .boxed(),
        "unreadOnly" | "unread" | "skip" | "notify" => {
            prop::sample::select(&["true", "false", "null"][..])
                .prop_map(scalar)
                .boxed()
        }
        "scope" => prop::sample::select(&["GLOBAL", "FRIENDS", "LOCAL"][..])
            .prop_map(Literal::Enum)
            .boxed(),
        "action" => prop::sample::select(
            &["CUSTOM", "STORY_LIKED", "STORY_CREATED", "ACHIEVEMENT_EARNED", "NOPE"][..],
        )
        .prop_map(Literal::Enum)
        .boxed(),
        "ids" => prop::collection::vec(id_literal(), 0..5)
            .prop_map(Literal::List)
            .boxed(),
        "input" => {
            let keys = input_keys(field);
            let values: Vec<_> = keys
                .iter()
                .map(|key| prop::option::weighted(0.85, typed_literal(field, key)))
                .collect();
            (values, prop::option::weighted(0.05, text_literal()))
                .prop_map(move |(values, unknown)| {
                    let mut fields: Vec<(&'static str, Literal)> = keys
                        .iter()
                        .zip(values)
                        .filter_map(|(key, value)| value.map(|value| (*key, value)))
                        .collect();
                    fields.extend(unknown.map(|value| ("unknownKey", value)));
                    Literal::Object(fields)
                })
                .boxed()
        }
        _ => text_literal(),
    }
}

/// An argument's value as GraphQL: typed mostly, else any literal or a deep list.
fn argument_value(field: &'static str, argument: &'static str) -> BoxedStrategy<String> {
    prop_oneof![
        6 => typed_literal(field, argument).prop_map(|literal| literal.graphql()),
        1 => graphql_value(),
        1 => deep_graphql_list(),
    ]
    .boxed()
}

/// Real root fields (mostly real arguments, with random values), so that documents
/// validate and resolvers parse what they get.
fn schema_document() -> impl Strategy<Value = String> {
    let root = |fields: &'static [(&'static str, &'static [&'static str], &'static str)]| {
        prop::sample::select(fields).prop_flat_map(|(field, arguments, selection)| {
            // A value for each real argument, or none; maybe an unknown argument too.
            let values: Vec<_> = arguments
                .iter()
                .map(|argument| {
                    prop::option::weighted(0.85, argument_value(field, argument))
                        .prop_map(move |value| value.map(|value| format!("{argument}: {value}")))
                })
                .collect();
            let unknown = prop::option::weighted(
                0.05,
                (name(), graphql_value()).prop_map(|(name, value)| format!("{name}: {value}")),
            );
            (values, unknown).prop_map(move |(values, unknown)| {
                let given: Vec<String> = values.into_iter().chain([unknown]).flatten().collect();
                if given.is_empty() {
                    format!("{field} {selection}")
                } else {
                    format!("{field}({}) {selection}", given.join(", "))
                }
            })
        })
    };
    let aliased = |roots: Vec<String>| -> String {
        roots
            .into_iter()
            .enumerate()
            .map(|(n, root)| format!("a{n}: {root}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    prop_oneof![
        3 => prop::collection::vec(root(QUERY_FIELDS), 1..4)
            .prop_map(move |roots| format!("{{ {} }}", aliased(roots))),
        2 => prop::collection::vec(root(MUTATION_FIELDS), 1..3)
            .prop_map(move |roots| format!("mutation {{ {} }}", aliased(roots))),
    ]
}

/// GraphQL-ish token soup.
fn token_document() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        4 => prop::sample::select(
            &[
                "{", "}", "(", ")", "[", "]", ":", "$", "!", "@", "...", "=", "|", "&", ",",
                "query", "mutation", "subscription", "fragment", "on", "true", "false", "null",
                "\"", "\"\"\"", "#", "\n", "\u{feff}", "\0", "\u{2028}", "\\",
            ][..],
        )
        .prop_map(str::to_string),
        3 => name(),
        1 => "[0-9\\-][_0-9A-Za-z]{0,4}",
        1 => awkward_number(),
        1 => any::<i64>().prop_map(|value| value.to_string()),
        1 => any::<String>().prop_map(|text| Value::String(text).to_string()),
        1 => prop::sample::select(AWKWARD_STRINGS).prop_map(str::to_string),
        1 => "\\$[a-z]{1,3}",
    ];
    let separator = prop::sample::select(&[" ", "", "\n", ",", "\t", "\r\n"][..]);
    prop::collection::vec((token, separator), 0..60).prop_map(|tokens| {
        tokens
            .into_iter()
            .map(|(token, separator)| format!("{token}{separator}"))
            .collect()
    })
}

fn document() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => schema_document(),
        2 => structured_document(),
        2 => token_document(),
        1 => any::<String>(),
    ]
}

/// `variables` of a request: an object of random values (for names the documents
/// use), or any JSON at all.
fn variables() -> impl Strategy<Value = String> {
    prop_oneof![
        19 => prop::collection::vec(("[a-z]{1,3}|id|first|after|input|ids", variable_value()), 0..4)
            .prop_map(|fields| {
                let fields: Vec<String> = fields
                    .into_iter()
                    .map(|(key, value)| format!("{}:{value}", Value::String(key)))
                    .collect();
                format!("{{{}}}", fields.join(","))
            }),
        1 => any_json(),
    ]
}

/// One member of a request object, as `"key":value` text.
fn member(
    key: &'static str,
    value: impl Strategy<Value = String>,
) -> impl Strategy<Value = String> {
    value.prop_map(move |value| format!("\"{key}\":{value}"))
}

/// A JSON request object: `query` (a document, or any JSON), `variables`,
/// `operationName`, `extensions`, each maybe absent.
fn request_object() -> impl Strategy<Value = String> {
    let query = prop_oneof![
        20 => document().prop_map(|document| Value::String(document).to_string()),
        1 => any_json(),
    ];
    let operation_name = prop_oneof![
        9 => name().prop_map(|name| Value::String(name).to_string()),
        1 => any_json(),
    ];
    let extensions = prop_oneof![
        1 => ("[0-9a-f]{0,64}", -2i64..3).prop_map(|(hash, version)| {
            format!(r#"{{"persistedQuery":{{"version":{version},"sha256Hash":"{hash}"}}}}"#)
        }),
        1 => any_json(),
    ];
    (
        prop::option::weighted(0.95, member("query", query)),
        prop::option::weighted(0.6, member("variables", variables())),
        prop::option::weighted(0.1, member("operationName", operation_name)),
        prop::option::weighted(0.1, member("extensions", extensions)),
    )
        .prop_map(|(query, variables, operation_name, extensions)| {
            let members: Vec<String> = [query, variables, operation_name, extensions]
                .into_iter()
                .flatten()
                .collect();
            format!("{{{}}}", members.join(","))
        })
}

/// A batch: 0 to 12 requests (or other JSON values) in an array.
fn batch() -> impl Strategy<Value = String> {
    prop::collection::vec(prop_oneof![40 => request_object(), 1 => any_json()], 0..13)
        .prop_map(|requests| format!("[{}]", requests.join(",")))
}

/// A template operation with random values for its variables (or its valid ones).
fn template_request() -> impl Strategy<Value = String> {
    prop::sample::select(TEMPLATES).prop_flat_map(|(query, valid)| {
        // The template's variables, by name, and the field an `input` goes to.
        let names: Vec<&'static str> = query
            .split('$')
            .skip(1)
            .filter_map(|rest| rest.split_once(':').map(|(name, _)| name.trim()))
            .filter(|name| !name.contains([' ', ')', ',']))
            .collect();
        let field = query
            .split(['{', '('])
            .nth(2)
            .map(str::trim)
            .and_then(|field| MUTATION_FIELDS.iter().find(|(name, ..)| *name == field))
            .map_or("", |(name, ..)| *name);
        let values: Vec<_> = names
            .iter()
            .map(|name| {
                prop::option::weighted(
                    0.9,
                    prop_oneof![
                        5 => typed_literal(field, name).prop_map(|literal| literal.json()),
                        1 => variable_value(),
                    ],
                )
            })
            .collect();
        (
            values,
            prop::bool::weighted(0.1),
            prop::option::weighted(0.03, any_json()),
        )
            .prop_map(move |(values, keep_valid, instead)| {
                let fields: Vec<String> = names
                    .iter()
                    .zip(values)
                    .filter_map(|(name, value)| value.map(|value| format!("\"{name}\":{value}")))
                    .collect();
                let variables = match (keep_valid, instead) {
                    (true, _) => valid.to_string(),
                    (false, Some(instead)) => instead,
                    (false, None) => format!("{{{}}}", fields.join(",")),
                };
                format!(
                    r#"{{"query":{},"variables":{variables}}}"#,
                    Value::String(query.to_string())
                )
            })
    })
}

/// Random bytes, invalid UTF-8 mostly, alone or after the start of a request.
fn random_bytes() -> impl Strategy<Value = Vec<u8>> {
    let bytes = prop::collection::vec(
        prop_oneof![
            4 => any::<u8>(),
            1 => prop::sample::select(&[0xff, 0xfe, 0xc0, 0xc1, 0xed, 0xf4, 0x80, b'"', b'\\', b'{', b'['][..]),
        ],
        0..2048,
    );
    let prefix = prop::sample::select(
        &[
            "",
            r#"{"query":""#,
            r#"[{"query":""#,
            r#"{"query":"{ me { id } }","variables":"#,
            r#"{"query":"query($x: ID!) { user(id: $x) { id } }","variables":{"x":""#,
            "\u{feff}",
        ][..],
    );
    (prefix, bytes).prop_map(|(prefix, bytes)| [prefix.as_bytes(), &bytes].concat())
}

fn caller() -> impl Strategy<Value = Caller> {
    prop_oneof![
        3 => Just(Caller::Anonymous),
        5 => Just(Caller::Fuzzer),
        1 => prop_oneof![
            "Bearer [ -~]{0,80}",
            "[ -~]{0,40}",
            Just("Bearer".to_string()),
            Just("bearer eyJhbGciOiJub25lIn0.e30.".to_string()),
        ]
        .prop_map(Caller::Header),
    ]
}

fn content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        30 => Just(Some("application/json")),
        1 => Just(None),
        1 => Just(Some("text/plain")),
        3 => prop::sample::select(CONTENT_TYPES).prop_map(Some),
    ]
}

fn accept() -> impl Strategy<Value = Option<&'static str>> {
    prop::option::weighted(0.3, prop::sample::select(ACCEPTS))
}

/// A POST of `body` with a random Content-Type, Accept and caller.
fn post(body: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Case> {
    (content_type(), accept(), caller(), body).prop_map(|(content_type, accept, caller, body)| {
        Case::Post {
            content_type,
            accept,
            caller,
            body,
        }
    })
}

fn post_text(body: impl Strategy<Value = String>) -> impl Strategy<Value = Case> {
    post(body.prop_map(String::into_bytes))
}

/// The longest query string sent (percent-encoded, so ASCII).
const MAX_GET_QUERY: usize = 16 * 1024;

/// A GET with a random query string: raw text, percent-encoded bytes (any, so invalid
/// UTF-8 too), or `query`, `variables`, `operationName` parameters.
fn get() -> impl Strategy<Value = Case> {
    let encoded = |pairs: Vec<(&str, String)>| {
        let mut url = reqwest::Url::parse("http://fuzz.invalid/graphql").unwrap();
        for (key, value) in pairs {
            url.query_pairs_mut().append_pair(key, &value);
        }
        let mut query = url.query().unwrap_or_default().to_string();
        // A URI holds at most 64 KiB (the http crate's limit, before any server's).
        query.truncate(MAX_GET_QUERY);
        query
    };
    let query = prop_oneof![
        1 => "[ -~]{0,200}",
        1 => prop::collection::vec(any::<u8>(), 0..100)
            .prop_map(|bytes| bytes.iter().map(|byte| format!("%{byte:02X}")).collect()),
        4 => (
            document(),
            prop::option::of(variables()),
            prop::option::of(name()),
        )
            .prop_map(move |(document, variables, operation_name)| {
                let mut pairs = vec![("query", document)];
                pairs.extend(variables.map(|variables| ("variables", variables)));
                pairs.extend(operation_name.map(|name| ("operationName", name)));
                encoded(pairs)
            }),
    ];
    (accept(), caller(), prop::bool::weighted(0.1), query).prop_map(
        |(accept, caller, websocket, query)| Case::Get {
            accept,
            caller,
            websocket,
            query,
        },
    )
}

// ---- The test ---------------------------------------------------------------------

/// Counts panics on the server's threads (once per process), then lets the previous
/// hook report them as usual.
fn count_server_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some(SERVER_THREADS) {
                SERVER_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

struct Fuzzer {
    app: TestApp,
    user: TestUser,
    client: reqwest::Client,
    /// What `{ xpRewards { xp } }` answers while the server is well.
    healthy_answer: Value,
}

const HEALTH_CHECK: &str = "{ xpRewards { xp } }";

impl Fuzzer {
    /// Sends the case; returns the status and the body.
    async fn send(&self, case: &Case) -> Result<(u16, Vec<u8>), String> {
        let url = format!("{}/graphql", self.app.base_url);
        let (mut request, accept, caller) = match case {
            Case::Post {
                content_type,
                accept,
                caller,
                body,
            } => {
                let mut request = self.client.post(url).body(body.clone());
                if let Some(content_type) = content_type {
                    request = request.header("content-type", *content_type);
                }
                (request, accept, caller)
            }
            Case::Get {
                accept,
                caller,
                websocket,
                query,
            } => {
                let mut request = self.client.get(format!("{url}?{query}"));
                if *websocket {
                    // No key and no version: an upgrade that must be refused.
                    request = request
                        .header("connection", "upgrade")
                        .header("upgrade", "websocket")
                        .header("sec-websocket-protocol", "graphql-transport-ws");
                }
                (request, accept, caller)
            }
        };
        if let Some(accept) = accept {
            request = request.header("accept", *accept);
        }
        match caller {
            Caller::Anonymous => {}
            Caller::Fuzzer => request = request.bearer_auth(&self.user.token),
            Caller::Header(value) => request = request.header("authorization", value),
        }
        let response = request
            .send()
            .await
            .map_err(|error| format!("no answer: {error:?}"))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|error| format!("status {status}, then the body broke off: {error:?}"))?;
        Ok((status, body.to_vec()))
    }

    async fn health_check(&self) -> Result<Value, String> {
        let response = self
            .client
            .post(format!("{}/graphql", self.app.base_url))
            .json(&json!({ "query": HEALTH_CHECK }))
            .send()
            .await
            .map_err(|error| format!("no answer: {error:?}"))?;
        let status = response.status().as_u16();
        let body: Value = response
            .json()
            .await
            .map_err(|error| format!("status {status}, no JSON: {error:?}"))?;
        if status != 200 {
            return Err(format!("status {status}: {body}"));
        }
        Ok(body)
    }

    /// The bar, for one case.
    async fn check(&self, case: &Case) -> Result<(), String> {
        // Each case answers for its own panics (while shrinking too).
        SERVER_PANICS.store(0, Ordering::SeqCst);
        let (status, body) = self.send(case).await?;
        if status >= 500 {
            return Err(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        if let Some(error) = internal_error(&body) {
            return Err(format!("status {status} with an internal error: {error}"));
        }
        let answer = self.health_check().await;
        // Counted after the next request: work a request left behind may panic later.
        let panics = SERVER_PANICS.load(Ordering::SeqCst);
        if panics > 0 {
            return Err(format!("{panics} panics on the server's threads"));
        }
        if !self.app.is_serving() {
            return Err("the server stopped".to_string());
        }
        let answer = answer?;
        if answer != self.healthy_answer {
            return Err(format!("the next valid request answered {answer}"));
        }
        Ok(())
    }
}

/// A GraphQL error with the code INTERNAL_SERVER_ERROR in a (single or batched)
/// response: a server fault reported with a 200, a 5xx in all but its status.
fn internal_error(body: &[u8]) -> Option<Value> {
    let response: Value = serde_json::from_slice(body).ok()?;
    let responses = match response {
        Value::Array(responses) => responses,
        single => vec![single],
    };
    responses
        .iter()
        .filter_map(|response| response["errors"].as_array())
        .flatten()
        .find(|error| error["extensions"]["code"] == "INTERNAL_SERVER_ERROR")
        .cloned()
}

#[test]
fn random_requests_never_get_a_5xx_or_a_panic_and_the_server_keeps_answering() {
    count_server_panics();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(SERVER_THREADS)
        .enable_all()
        .build()
        .unwrap();
    let fuzzer = runtime.block_on(async {
        let app = TestApp::spawn().await;
        let user = app.sign_up("fuzzer").await;
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .unwrap();
        let mut fuzzer = Fuzzer {
            app,
            user,
            client,
            healthy_answer: Value::Null,
        };
        fuzzer.healthy_answer = fuzzer.health_check().await.unwrap();
        assert_eq!(fuzzer.healthy_answer["data"]["xpRewards"][0]["xp"], 100);
        // Stories and users for the templates' ids to find; then each template once
        // with valid variables, so that its document counts as validated.
        fuzzer
            .app
            .create_published_story(&fuzzer.user, "Seed")
            .await;
        for (query, variables) in TEMPLATES {
            let variables: Value = serde_json::from_str(variables).unwrap();
            fuzzer
                .app
                .graphql(Some(&fuzzer.user.token), query, variables)
                .await;
        }
        fuzzer
    });

    let seed = match std::env::var("PROPTEST_RNG_SEED") {
        Ok(seed) => seed.parse().expect("PROPTEST_RNG_SEED: a number"),
        Err(_) => {
            use std::hash::{BuildHasher, Hasher};
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        }
    };
    let started = std::time::Instant::now();
    let mut runner = TestRunner::new(Config {
        cases: 1,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..Config::default()
    });
    let mut run = |label: &str, cases: u32, strategy: proptest::strategy::BoxedStrategy<Case>| {
        let mut config = runner.config().clone();
        config.cases = cases;
        let mut strategy_runner = TestRunner::new_with_rng(config, runner.new_rng());
        let outcome = strategy_runner.run(&strategy, |case| {
            runtime
                .block_on(fuzzer.check(&case))
                .map_err(TestCaseError::fail)
        });
        match outcome {
            Ok(()) => {}
            Err(TestError::Fail(reason, case)) => panic!(
                "{label}: {reason}\nthe smallest failing request: {case:?}\n(seed {seed}: PROPTEST_RNG_SEED={seed} replays this run)"
            ),
            Err(TestError::Abort(reason)) => panic!("{label}: aborted: {reason} (seed {seed})"),
        }
    };
    run("random bytes", 50, post(random_bytes()).boxed());
    run("random JSON", 50, post_text(any_json()).boxed());
    run("GraphQL requests", 180, post_text(request_object()).boxed());
    run(
        "templates with random variables",
        80,
        post_text(template_request()).boxed(),
    );
    run("batches", 40, post_text(batch()).boxed());
    run("GET query strings", 80, get().boxed());
    eprintln!(
        "fuzz: 480 cases in {:.1} s (seed {seed})",
        started.elapsed().as_secs_f64()
    );

    runtime.block_on(async move {
        let mut fuzzer = fuzzer;
        fuzzer.app.shut_down().await;
    });
}
