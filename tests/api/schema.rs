//! schema.graphql must be exactly what the server serves.

#[test]
fn schema_graphql_matches_the_running_schema() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("reading schema.graphql");
    let served = storyxp::graphql::sdl();
    if committed != served {
        let diff = similar::TextDiff::from_lines(&committed, &served)
            .unified_diff()
            .header("schema.graphql", "storyxp print-schema")
            .to_string();
        panic!(
            "schema.graphql is out of date. Regenerate it with\n    cargo run -- print-schema > schema.graphql\n\n{diff}"
        );
    }
}

/// The product's numbers: every amount, who receives it and whether one's own story
/// pays, and the level size. Every other test and the database follow the Rust table;
/// this one says what the table must be.
#[test]
fn the_xp_rules_table_is_the_products() {
    let mut table: String = storyxp::xp::rules::rules()
        .map(|rule| {
            format!(
                "{} {} to {}{}{}{}\n",
                rule.name,
                rule.xp.map_or("custom".to_string(), |xp| xp.to_string()),
                rule.recipient.as_str(),
                if rule.pays_on_own_story {
                    ""
                } else {
                    ", not on own story"
                },
                rule.daily_limit
                    .map_or(String::new(), |limit| format!(", {limit} a day")),
                if rule.boostable { ", boostable" } else { "" }
            )
        })
        .collect();
    table.push_str(&format!(
        "level size {}\n",
        storyxp::xp::level::XP_PER_LEVEL
    ));
    insta::assert_snapshot!(table, @r"
    STORY_CREATED 100 to ACTOR, 10 a day, boostable
    STORY_PUBLISHED 50 to ACTOR, 10 a day, boostable
    COLLABORATION_COMPLETED 50 to PARTICIPANTS, boostable
    STORY_LIKED 5 to AUTHOR, not on own story, boostable
    STORY_COMMENTED 10 to AUTHOR, not on own story, boostable
    FRIEND_ADDED 20 to BOTH_FRIENDS, boostable
    CHARACTER_CREATED 25 to ACTOR, 10 a day, boostable
    STORY_READ 5 to ACTOR, not on own story, 30 a day, boostable
    ACHIEVEMENT_EARNED 30 to EARNER
    CUSTOM custom to TARGET
    STREAK_BONUS 50 to ACTOR
    QUEST_COMPLETED 25 to ACTOR
    DAILY_QUESTS_CLEARED 50 to ACTOR
    FRIEND_COLLABORATION 25 to PARTICIPANTS
    level size 500
    ");
}

/// GraphiQL's docs explorer is the frontend's manual: every type, field, argument, enum
/// value and input field of the served schema says what it is (built-in scalars and the
/// built-in directives come with their own).
#[test]
fn every_schema_member_has_a_description() {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

    fn described(description: &Option<async_graphql::Positioned<String>>) -> bool {
        description
            .as_ref()
            .is_some_and(|description| !description.node.trim().is_empty())
    }

    let document =
        async_graphql::parser::parse_schema(storyxp::graphql::sdl()).expect("parsing the SDL");
    let mut undocumented = Vec::new();
    for definition in &document.definitions {
        let TypeSystemDefinition::Type(definition) = definition else {
            continue;
        };
        let definition = &definition.node;
        let type_name = definition.name.node.as_str();
        if !described(&definition.description) {
            undocumented.push(type_name.to_string());
        }
        let fields = match &definition.kind {
            TypeKind::Object(object) => &object.fields,
            TypeKind::Interface(interface) => &interface.fields,
            _ => &Vec::new(),
        };
        for field in fields {
            let field = &field.node;
            let field_path = format!("{type_name}.{}", field.name.node);
            if !described(&field.description) {
                undocumented.push(field_path.clone());
            }
            for argument in &field.arguments {
                if !described(&argument.node.description) {
                    undocumented.push(format!("{field_path}({})", argument.node.name.node));
                }
            }
        }
        match &definition.kind {
            TypeKind::Enum(enumeration) => {
                for value in &enumeration.values {
                    if !described(&value.node.description) {
                        undocumented.push(format!("{type_name}.{}", value.node.value.node));
                    }
                }
            }
            TypeKind::InputObject(input) => {
                for field in &input.fields {
                    if !described(&field.node.description) {
                        undocumented.push(format!("{type_name}.{}", field.node.name.node));
                    }
                }
            }
            TypeKind::Scalar
            | TypeKind::Object(_)
            | TypeKind::Interface(_)
            | TypeKind::Union(_) => {}
        }
    }
    assert_eq!(
        undocumented.len(),
        0,
        "schema members without a description (add a /// doc comment, or \
         #[graphql(desc = \"...\")] on an argument):\n  {}",
        undocumented.join("\n  ")
    );
}
