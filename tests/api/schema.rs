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

#[test]
fn the_xp_rules_table_is_the_products() {
    let table: String = storyxp::xp::rules::RULES
        .iter()
        .map(|rule| {
            format!(
                "{} {}\n",
                rule.name,
                rule.xp.map_or("custom".to_string(), |xp| xp.to_string())
            )
        })
        .collect();
    insta::assert_snapshot!(table, @r"
    STORY_CREATED 100
    STORY_PUBLISHED 50
    COLLABORATION_COMPLETED 50
    STORY_LIKED 5
    STORY_COMMENTED 10
    FRIEND_ADDED 20
    CHARACTER_CREATED 25
    STORY_READ 5
    ACHIEVEMENT_EARNED 30
    CUSTOM custom
    ");
}
