//! XP math, achievements, level-ups and the database's own guarantees.

use diesel::sql_types::{BigInt, Integer, Nullable};
use diesel_async::RunQueryDsl;
use serde_json::json;

use storyxp::xp::XpAction;
use storyxp::xp::rules::{achievements, rules};

use crate::common::{TestApp, TestUser, sign_up_many};

/// What the Rust rules table says `action` pays: tests about mechanisms follow it, while
/// the contract's worked examples (twenty stories, 650 XP) and the snapshot in schema.rs
/// keep the product's numbers.
fn pays(action: XpAction) -> i64 {
    i64::from(action.xp().expect("a table amount"))
}

const CREATE: &str = "mutation($input: CreateStoryInput!) { createStory(input: $input) { xpEarned { xpGained totalXp level leveledUp achievements { key } } } }";

async fn create_and_award(app: &TestApp, user: &TestUser, n: usize) -> serde_json::Value {
    // At most 10 stories a day are paid: stories 1-10 on one day, 11-20 on the next.
    let day = if n <= 10 {
        "2026-06-01T12:00:00Z"
    } else {
        "2026-06-02T12:00:00Z"
    };
    let data = app
        .ok_at(
            day,
            Some(&user.token),
            CREATE,
            json!({ "input": { "title": format!("Story {n}"), "content": "..." } }),
        )
        .await;
    data["createStory"]["xpEarned"].clone()
}

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct LevelNotification {
    #[diesel(sql_type = Nullable<Integer>)]
    level: Option<i32>,
}

/// The contract's worked example, in the product's numbers.
#[tokio::test(flavor = "multi_thread")]
async fn twenty_stories_reach_level_five_with_storyteller_and_rising_star() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let mut awards = Vec::new();
    for n in 1..=20 {
        awards.push(create_and_award(&app, &alice, n).await);
    }
    assert_eq!(awards[0]["achievements"], json!([{ "key": "FIRST_STORY" }]));
    assert_eq!(awards[9]["achievements"], json!([{ "key": "STORYTELLER" }]));
    assert_eq!(awards[9]["xpGained"], 130);
    // The next day's first story also pays the 2-day streak's bonus (10).
    assert_eq!(awards[10]["xpGained"], 110);
    // 19 stories: 1900 + 30 + 30 + 10 = 1970 (level 4); the 20th: 2070, level 5,
    // RISING_STAR +30.
    assert_eq!(awards[18]["totalXp"], 1970);
    assert_eq!(awards[18]["level"], 4);
    assert_eq!(
        awards[19],
        json!({ "xpGained": 130, "totalXp": 2100, "level": 5, "leveledUp": true, "achievements": [{ "key": "RISING_STAR" }] })
    );
    let level_ups: Vec<i64> = awards
        .iter()
        .filter(|award| award["leveledUp"] == true)
        .map(|award| award["level"].as_i64().unwrap())
        .collect();
    assert_eq!(level_ups, [2, 3, 4, 5]);

    let mut connection = app.sql().await;
    let stored: Vec<LevelNotification> =
        diesel::sql_query("SELECT level FROM notifications WHERE level IS NOT NULL ORDER BY id")
            .load(&mut connection)
            .await
            .unwrap();
    let stored: Vec<Option<i32>> = stored.into_iter().map(|row| row.level).collect();
    assert_eq!(
        stored,
        [Some(2), Some(3), Some(4), Some(5)],
        "one notification per level-up"
    );
    let me = app
        .ok(
            Some(&alice.token),
            "{ me { experiencePoints level achievements { key } } }",
            json!({}),
        )
        .await;
    assert_eq!(me["me"]["experiencePoints"], 2100);
    assert_eq!(
        me["me"]["achievements"],
        json!([{ "key": "FIRST_STORY" }, { "key": "STORYTELLER" }, { "key": "RISING_STAR" }])
    );
}

/// The contract's worked example, in the product's numbers.
#[tokio::test(flavor = "multi_thread")]
async fn profile_math_at_650_xp() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    // 6 stories (600 + 30 for FIRST_STORY) and 4 likes (20) make 650.
    for n in 0..5 {
        app.create_story(&alice, &format!("Draft {n}")).await;
    }
    let liked = app.create_story(&alice, "Liked").await;
    let mut connection = app.sql().await;
    // Publishing would add 80; flip the flag directly so that only likes add XP.
    diesel::sql_query("UPDATE stories SET published = TRUE WHERE id = $1")
        .bind::<BigInt, _>(liked.parse::<i64>().unwrap())
        .execute(&mut connection)
        .await
        .unwrap();
    for fan in sign_up_many(&app, "fan", 4).await {
        app.ok(
            Some(&fan.token),
            "mutation($id: ID!) { likeStory(id: $id) { story { id } } }",
            json!({ "id": liked }),
        )
        .await;
    }
    let me = app
        .ok(
            Some(&alice.token),
            "{ me { experiencePoints level xpForNextLevel xpProgress xpProgressPercentage } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["me"],
        json!({ "experiencePoints": 650, "level": 2, "xpForNextLevel": 1000, "xpProgress": 150, "xpProgressPercentage": 30.0 })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_database_refuses_to_lower_or_hand_edit_xp() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    app.create_story(&alice, "Dawn").await;
    let mut connection = app.sql().await;
    let lower =
        diesel::sql_query("UPDATE users SET experience_points = experience_points - 5, level = 1")
            .execute(&mut connection)
            .await
            .unwrap_err();
    assert!(
        lower
            .to_string()
            .contains("experience_points never decreases"),
        "{lower}"
    );
    let raise = diesel::sql_query("UPDATE users SET experience_points = experience_points + 5")
        .execute(&mut connection)
        .await
        .unwrap_err();
    assert!(
        raise
            .to_string()
            .contains("only by inserting into xp_ledger"),
        "{raise}"
    );
    let rewrite = diesel::sql_query("UPDATE xp_ledger SET amount = 1")
        .execute(&mut connection)
        .await
        .unwrap_err();
    assert!(rewrite.to_string().contains("append-only"), "{rewrite}");
    let erase = diesel::sql_query("DELETE FROM xp_ledger")
        .execute(&mut connection)
        .await
        .unwrap_err();
    assert!(erase.to_string().contains("append-only"), "{erase}");
    let negative = diesel::sql_query(
        "INSERT INTO xp_ledger (recipient_id, action, amount) VALUES ($1, 'CUSTOM', -10)",
    )
    .bind::<BigInt, _>(alice.id.parse::<i64>().unwrap())
    .execute(&mut connection)
    .await
    .unwrap_err();
    assert!(
        negative.to_string().contains("xp_ledger_amount_positive"),
        "{negative}"
    );
    assert_eq!(
        app.xp(&alice).await,
        pays(XpAction::StoryCreated) + pays(XpAction::AchievementEarned)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn xp_always_equals_the_ledger_sum() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let id = app.create_published_story(&alice, "Hit").await;
    let fans = sign_up_many(&app, "fan", 12).await;
    futures_util::future::join_all(fans.iter().map(|fan| {
        app.ok(
            Some(&fan.token),
            "mutation($id: ID!) { likeStory(id: $id) { story { id } } }",
            json!({ "id": id }),
        )
    }))
    .await;
    #[derive(diesel::QueryableByName)]
    struct Mismatch {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    let mut connection = app.sql().await;
    let mismatches: Mismatch = diesel::sql_query(
        "SELECT count(*) AS count FROM users u WHERE u.experience_points <> \
         (SELECT coalesce(sum(amount), 0) FROM xp_ledger l WHERE l.recipient_id = u.id)",
    )
    .get_result(&mut connection)
    .await
    .unwrap();
    assert_eq!(mismatches.count, 0);
    // Created and published, each with its first achievement, and 12 likes.
    let achievement = pays(XpAction::AchievementEarned);
    assert_eq!(
        app.xp(&alice).await,
        pays(XpAction::StoryCreated)
            + pays(XpAction::StoryPublished)
            + 2 * achievement
            + 12 * pays(XpAction::StoryLiked)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rules_and_the_catalog_are_published() {
    let app = TestApp::spawn().await;
    let data = app
        .ok(
            None,
            "{ xpRewards { action xp description } achievements { key name description earnedAt } }",
            json!({}),
        )
        .await;
    let table: Vec<serde_json::Value> = rules()
        .map(|rule| json!({ "action": rule.name, "xp": rule.xp.unwrap_or(0), "description": rule.description }))
        .collect();
    assert_eq!(data["xpRewards"], json!(table));
    let catalog: Vec<serde_json::Value> = achievements()
        .map(|achievement| json!({ "key": achievement.code, "name": achievement.name, "description": achievement.description, "earnedAt": null }))
        .collect();
    assert_eq!(data["achievements"], json!(catalog));
    assert_eq!(
        data["achievements"][0],
        json!({ "key": "FIRST_STORY", "name": "First Story", "description": "Create your first story", "earnedAt": null })
    );
    assert_eq!(data["achievements"][12]["key"], "RISING_STAR");
}

#[tokio::test(flavor = "multi_thread")]
async fn xp_history_pages_newest_first() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    for n in 0..3 {
        app.create_story(&alice, &format!("Story {n}")).await;
    }
    let query = "query($after: String) { me { xpHistory(first: 2, after: $after) { nodes { action xpGained reason } pageInfo { hasNextPage endCursor } } } }";
    let first = app
        .ok(Some(&alice.token), query, json!({ "after": null }))
        .await;
    let history = &first["me"]["xpHistory"];
    let created = pays(XpAction::StoryCreated);
    assert_eq!(
        history["nodes"],
        json!([
            { "action": "STORY_CREATED", "xpGained": created, "reason": null },
            { "action": "STORY_CREATED", "xpGained": created, "reason": null }
        ])
    );
    assert_eq!(history["pageInfo"]["hasNextPage"], true);
    let second = app
        .ok(
            Some(&alice.token),
            query,
            json!({ "after": history["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(
        second["me"]["xpHistory"]["nodes"],
        json!([
            { "action": "ACHIEVEMENT_EARNED", "xpGained": pays(XpAction::AchievementEarned), "reason": "Achievement unlocked: First Story" },
            { "action": "STORY_CREATED", "xpGained": created, "reason": null }
        ])
    );
    assert_eq!(second["me"]["xpHistory"]["pageInfo"]["hasNextPage"], false);
}

/// Per-achievement XP: the catalog shows each achievement's own amount; the first
/// wave's ten stay 30 (ACHIEVEMENT_EARNED's), the later ones pay their own.
#[tokio::test(flavor = "multi_thread")]
async fn the_catalog_shows_each_achievements_xp() {
    let app = TestApp::spawn().await;
    let catalog = app.ok(None, "{ achievements { key xp } }", json!({})).await;
    let mut shown: Vec<(String, i64)> = catalog["achievements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["key"].as_str().unwrap().to_string(),
                row["xp"].as_i64().unwrap(),
            )
        })
        .collect();
    shown.sort();
    let mut expected: Vec<(String, i64)> = [
        ("FIRST_STORY", 30),
        ("STORYTELLER", 30),
        ("FIRST_PUBLISH", 30),
        ("CROWD_PLEASER", 30),
        ("CONVERSATION_STARTER", 30),
        ("SOCIAL_BUTTERFLY", 30),
        ("CHARACTER_DESIGNER", 30),
        ("BOOKWORM", 30),
        ("TEAM_PLAYER", 30),
        ("RISING_STAR", 30),
        ("WEEK_STREAK", 70),
        ("MONTH_STREAK", 300),
        ("QUEST_CHAMPION", 100),
    ]
    .map(|(key, xp)| (key.to_string(), xp))
    .to_vec();
    expected.sort();
    assert_eq!(shown, expected);
    assert_eq!(shown.len(), achievements().count());
}
