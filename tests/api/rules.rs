//! The rules have one home, the Rust table (`xp/rules.rs`, `xp/level.rs`): the
//! database's copy, and what its SQL pays, to whom and under which key, agree with it
//! for every action.

use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use storyxp::xp::XpAction;
use storyxp::xp::level::{XP_PER_LEVEL, level_for};
use storyxp::xp::rules::{AchievementKey, Recipient, Subject, XpRule, rules};

use crate::common::{TestApp, TestUser};

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct StoredRule {
    #[diesel(sql_type = Text)]
    action: String,
    #[diesel(sql_type = Nullable<Integer>)]
    default_xp: Option<i32>,
    #[diesel(sql_type = Nullable<Integer>)]
    tuned_xp: Option<i32>,
    #[diesel(sql_type = Nullable<Integer>)]
    xp: Option<i32>,
    #[diesel(sql_type = Text)]
    recipient: String,
    #[diesel(sql_type = Bool)]
    pays_on_own_story: bool,
    #[diesel(sql_type = Nullable<Integer>)]
    daily_limit: Option<i32>,
    #[diesel(sql_type = Bool)]
    boostable: bool,
}

impl StoredRule {
    /// The row a fresh database holds for `rule`.
    fn seeded(rule: &XpRule) -> Self {
        StoredRule {
            action: rule.name.to_string(),
            default_xp: rule.xp,
            tuned_xp: None,
            xp: rule.xp,
            recipient: rule.recipient.as_str().to_string(),
            pays_on_own_story: rule.pays_on_own_story,
            daily_limit: rule.daily_limit,
            boostable: rule.boostable,
        }
    }
}

async fn stored_rules(connection: &mut AsyncPgConnection) -> Vec<StoredRule> {
    diesel::sql_query(
        "SELECT action, default_xp, tuned_xp, xp, recipient, pays_on_own_story, daily_limit, boostable FROM xp_rules",
    )
    .load(connection)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_database_holds_exactly_the_rust_rules_table() {
    let app = TestApp::spawn().await;
    let mut stored = stored_rules(&mut app.sql().await).await;
    for rule in rules() {
        let position = stored
            .iter()
            .position(|row| row.action == rule.name)
            .unwrap_or_else(|| panic!("xp_rules has no row for {}", rule.name));
        assert_eq!(stored.swap_remove(position), StoredRule::seeded(rule));
    }
    assert_eq!(stored, [], "rows of actions the Rust table does not have");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_database_levels_are_the_rust_levels() {
    let app = TestApp::spawn().await;
    let mut connection = app.sql().await;
    let mut totals = vec![0, 1, 499, 500, 501, 999, 1000, 1499, 2090, 1_000_000];
    for levels in [1, 2, 3, 4, 10, 1000] {
        let start = levels * XP_PER_LEVEL;
        totals.extend([start - 1, start, start + 1]);
    }
    totals.extend([i32::MAX / 2, i32::MAX - 1, i32::MAX]);
    #[derive(diesel::QueryableByName)]
    struct Level {
        #[diesel(sql_type = Integer)]
        total: i32,
        #[diesel(sql_type = Integer)]
        level: i32,
    }
    let levels: Vec<Level> =
        diesel::sql_query("SELECT total, xp_level(total) AS level FROM unnest($1) AS total")
            .bind::<Array<Integer>, _>(&totals)
            .load(&mut connection)
            .await
            .unwrap();
    assert_eq!(levels.len(), totals.len());
    for Level { total, level } in levels {
        assert_eq!(level, level_for(total), "xp_level({total})");
    }

    // The CHECK holds users to it: the ledger trigger's level passes, any other fails.
    let alice = app.sign_up("alice").await;
    app.create_story(&alice, "Dawn").await;
    let off_by_one = diesel::sql_query("UPDATE users SET level = level + 1")
        .execute(&mut connection)
        .await
        .unwrap_err();
    assert!(
        off_by_one.to_string().contains("users_level_matches_xp"),
        "{off_by_one}"
    );
    let me = app
        .ok(
            Some(&alice.token),
            "{ me { experiencePoints level } }",
            json!({}),
        )
        .await;
    let total = i32::try_from(me["me"]["experiencePoints"].as_i64().unwrap()).unwrap();
    assert_eq!(me["me"]["level"], level_for(total));
}

/// One action done once: who did it, on whose story, who else takes part, and the
/// subject each recipient's award must be keyed by.
struct Scene {
    actor: i64,
    /// The author of the story the action is about; None for actions on no story.
    author: Option<i64>,
    /// The friend of a friendship, the collaborators of a collaboration, the target of
    /// an admin's award.
    others: Vec<i64>,
    subject: Box<dyn Fn(i64) -> Subject>,
    /// The amount the call gave (admin awards); None: the rule's.
    amount: Option<i32>,
}

/// What the Rust rule says `scene` must write, when the action pays `amount`:
/// (recipient, action, subject, amount), by recipient.
fn expected_entries(
    rule: &XpRule,
    amount: Option<i32>,
    scene: &Scene,
) -> Vec<(i64, String, Option<String>, i32)> {
    if scene.author == Some(scene.actor) && !rule.pays_on_own_story {
        return Vec::new();
    }
    let author = || scene.author.expect("an action on a story");
    let mut recipients = match rule.recipient {
        Recipient::Author => vec![author()],
        Recipient::Actor | Recipient::Earner => vec![scene.actor],
        Recipient::BothFriends => [vec![scene.actor], scene.others.clone()].concat(),
        Recipient::Participants => [vec![author()], scene.others.clone()].concat(),
        Recipient::Target => scene.others.clone(),
    };
    recipients.sort_unstable();
    let amount = scene.amount.or(amount).expect("an amount");
    recipients
        .into_iter()
        .map(|recipient| {
            let subject = (scene.subject)(recipient).key();
            (recipient, rule.name.to_string(), subject, amount)
        })
        .collect()
}

#[derive(diesel::QueryableByName)]
struct Entry {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    recipient_id: i64,
    #[diesel(sql_type = Text)]
    action: String,
    #[diesel(sql_type = Nullable<Text>)]
    subject: Option<String>,
    #[diesel(sql_type = Integer)]
    amount: i32,
}

async fn ledger_after(connection: &mut AsyncPgConnection, after: i64) -> Vec<Entry> {
    diesel::sql_query(
        "SELECT id, recipient_id, action, subject, amount FROM xp_ledger WHERE id > $1 ORDER BY id",
    )
    .bind::<BigInt, _>(after)
    .load(connection)
    .await
    .unwrap()
}

fn id_of(user: &TestUser) -> i64 {
    user.id.parse().unwrap()
}

const COMMENT: &str =
    "mutation($id: ID!) { commentOnStory(storyId: $id, body: \"Lovely\") { comment { id } } }";
const LIKE: &str = "mutation($id: ID!) { likeStory(id: $id) { story { id } } }";
const READ: &str = "mutation($id: ID!) { readStory(id: $id) { story { id } } }";

/// What the contract counts an action on a story once per.
#[derive(Clone, Copy)]
enum By {
    Story,
    StoryAndActor,
}

/// `mutation` on a published story of `author`'s, by `other` and then by the author.
async fn on_a_story(
    app: &TestApp,
    author: &TestUser,
    other: &TestUser,
    mutation: &str,
    by: By,
) -> Vec<Scene> {
    let id = app.create_published_story(author, "Acted on").await;
    let story: i64 = id.parse().unwrap();
    let mut scenes = Vec::new();
    for user in [other, author] {
        app.ok(Some(&user.token), mutation, json!({ "id": id }))
            .await;
        let actor = id_of(user);
        scenes.push(Scene {
            actor,
            author: Some(id_of(author)),
            others: vec![],
            subject: Box::new(move |_| match by {
                By::Story => Subject::Story(story),
                By::StoryAndActor => Subject::StoryBy { story, user: actor },
            }),
            amount: None,
        });
    }
    scenes
}

/// Does `action` as the API does it, once by another user and, for actions on a story,
/// once by its author on their own story; returns each scene.
async fn act(app: &TestApp, action: XpAction, author: &TestUser, other: &TestUser) -> Vec<Scene> {
    let alice = id_of(author);
    let bob = id_of(other);
    let story_of = |id: &str| id.parse::<i64>().unwrap();
    match action {
        XpAction::StoryCreated => {
            let story = story_of(&app.create_story(author, "Created").await);
            vec![Scene {
                actor: alice,
                author: Some(alice),
                others: vec![],
                subject: Box::new(move |_| Subject::Story(story)),
                amount: None,
            }]
        }
        XpAction::StoryPublished => {
            let id = app.create_story(author, "Published").await;
            app.ok(
                Some(&author.token),
                "mutation($id: ID!) { publishStory(id: $id) { story { id } } }",
                json!({ "id": id }),
            )
            .await;
            let story = story_of(&id);
            vec![Scene {
                actor: alice,
                author: Some(alice),
                others: vec![],
                subject: Box::new(move |_| Subject::Story(story)),
                amount: None,
            }]
        }
        XpAction::StoryLiked => on_a_story(app, author, other, LIKE, By::StoryAndActor).await,
        XpAction::StoryCommented => {
            on_a_story(app, author, other, COMMENT, By::StoryAndActor).await
        }
        XpAction::StoryRead => on_a_story(app, author, other, READ, By::Story).await,
        XpAction::CharacterCreated => {
            let data = app
                .ok(
                    Some(&author.token),
                    "mutation { createCharacter(input: { name: \"Hero\", description: \"Brave\" }) { character { id } } }",
                    json!({}),
                )
                .await;
            let character: i64 = data["createCharacter"]["character"]["id"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            vec![Scene {
                actor: alice,
                author: None,
                others: vec![],
                subject: Box::new(move |_| Subject::Character(character)),
                amount: None,
            }]
        }
        XpAction::FriendAdded => {
            let add = "mutation($id: ID!) { addFriend(userId: $id) { status } }";
            app.ok(Some(&author.token), add, json!({ "id": other.id }))
                .await;
            app.ok(Some(&other.token), add, json!({ "id": author.id }))
                .await;
            vec![Scene {
                actor: bob,
                author: None,
                others: vec![alice],
                subject: Box::new(move |recipient| {
                    Subject::User(if recipient == alice { bob } else { alice })
                }),
                amount: None,
            }]
        }
        XpAction::CollaborationCompleted | XpAction::FriendCollaboration => {
            if action == XpAction::FriendCollaboration {
                // Friends first: then each of the two is a friend of the other participant.
                let add = "mutation($id: ID!) { addFriend(userId: $id) { status } }";
                app.ok(Some(&author.token), add, json!({ "id": other.id }))
                    .await;
                app.ok(Some(&other.token), add, json!({ "id": author.id }))
                    .await;
            }
            let id = app.create_story(author, "Together").await;
            app.ok(
                Some(&author.token),
                "mutation($story: ID!, $user: ID!) { inviteCollaborator(storyId: $story, userId: $user) { story { id } } }",
                json!({ "story": id, "user": other.id }),
            )
            .await;
            app.ok(
                Some(&other.token),
                "mutation($story: ID!) { acceptCollaboration(storyId: $story) { story { id } } }",
                json!({ "story": id }),
            )
            .await;
            app.ok(
                Some(&author.token),
                "mutation($story: ID!) { completeCollaboration(storyId: $story) { story { id } } }",
                json!({ "story": id }),
            )
            .await;
            let story = story_of(&id);
            vec![Scene {
                actor: alice,
                author: Some(alice),
                others: vec![bob],
                subject: Box::new(move |_| Subject::Story(story)),
                amount: None,
            }]
        }
        XpAction::StreakBonus => {
            // Active on two consecutive dates (the test clock): day 2 pays 5 * 2.
            let character = "mutation { createCharacter(input: { name: \"Day\", description: \"\" }) { character { id } } }";
            for day in ["2026-06-01T12:00:00Z", "2026-06-02T12:00:00Z"] {
                app.ok_at(day, Some(&author.token), character, json!({}))
                    .await;
            }
            let date = chrono::NaiveDate::from_ymd_opt(2026, 6, 2).unwrap();
            vec![Scene {
                actor: alice,
                author: None,
                others: vec![],
                subject: Box::new(move |_| Subject::Date(date)),
                amount: Some(storyxp::xp::rules::STREAK.bonus(2)),
            }]
        }
        // Quest claims need a day's quests done: tests/api/daily.rs proves their amounts.
        XpAction::QuestCompleted | XpAction::DailyQuestsCleared => vec![],
        XpAction::AchievementEarned => {
            // The newcomer's first story unlocks FIRST_STORY.
            let newcomer = app.sign_up("newcomer").await;
            app.create_story(&newcomer, "First").await;
            vec![Scene {
                actor: id_of(&newcomer),
                author: None,
                others: vec![],
                subject: Box::new(|_| Subject::Achievement(AchievementKey::FirstStory)),
                amount: None,
            }]
        }
        XpAction::Custom => {
            let admin = app.sign_up("root").await;
            diesel::sql_query("UPDATE users SET is_admin = TRUE WHERE id = $1")
                .bind::<BigInt, _>(id_of(&admin))
                .execute(&mut app.sql().await)
                .await
                .unwrap();
            app.ok(
                Some(&admin.token),
                "mutation($user: ID!) { awardXp(input: { userId: $user, amount: 7 }) { xpGained } }",
                json!({ "user": other.id }),
            )
            .await;
            vec![Scene {
                actor: id_of(&admin),
                author: None,
                others: vec![bob],
                subject: Box::new(|_| Subject::Unique),
                amount: Some(7),
            }]
        }
    }
}

/// Does every action through the API and checks the ledger entries its SQL wrote
/// (amount from xp_rules, recipient and own-story rule from xp_rules or the domain
/// code, key from the SQL or Subject) against the Rust rule, each action paying
/// `amount(rule)`.
async fn check_every_action(app: &TestApp, amount: impl Fn(&XpRule) -> Option<i32>) {
    let mut connection = app.sql().await;
    for action in XpAction::ALL {
        let rule = action.rule();
        // Fresh users per action, so no action's achievements or earlier awards matter.
        let author = app
            .sign_up(&format!("author_{}", rule.name.to_lowercase()))
            .await;
        let other = app
            .sign_up(&format!("other_{}", rule.name.to_lowercase()))
            .await;
        let before = ledger_after(&mut connection, 0)
            .await
            .last()
            .map_or(0, |entry| entry.id);
        let scenes = act(app, action, &author, &other).await;
        let written: Vec<(i64, String, Option<String>, i32)> =
            ledger_after(&mut connection, before)
                .await
                .into_iter()
                .filter(|entry| entry.action == rule.name)
                .map(|entry| {
                    (
                        entry.recipient_id,
                        entry.action,
                        entry.subject,
                        entry.amount,
                    )
                })
                .collect();
        let mut written_sorted = written.clone();
        written_sorted.sort();
        let mut expected: Vec<_> = scenes
            .iter()
            .flat_map(|scene| expected_entries(rule, amount(rule), scene))
            .collect();
        expected.sort();
        assert!(
            !expected.is_empty()
                || matches!(
                    action,
                    XpAction::QuestCompleted | XpAction::DailyQuestsCleared
                ),
            "{} pays nothing in its scenes",
            rule.name
        );
        assert_eq!(written_sorted, expected, "{}", rule.name);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_action_pays_the_rust_amount_to_the_rust_recipients_under_the_rust_key() {
    let app = TestApp::spawn().await;
    check_every_action(&app, |rule| rule.xp).await;
}

/// The SQL pays what the database's table says now, for every action (so an amount
/// tuned there reaches every instance at once), not a copy of the default.
#[tokio::test(flavor = "multi_thread")]
async fn every_action_pays_what_the_database_table_says_now() {
    let app = TestApp::spawn().await;
    diesel::sql_query("UPDATE xp_rules SET tuned_xp = default_xp + 1")
        .execute(&mut app.sql().await)
        .await
        .unwrap();
    check_every_action(&app, |rule| rule.xp.map(|xp| xp + 1)).await;
}

/// Writing the Rust table again (every migrate does) keeps an amount tuned in the
/// database and brings back every default.
#[tokio::test(flavor = "multi_thread")]
async fn seeding_keeps_tuned_amounts_and_restores_the_defaults() {
    let app = TestApp::spawn().await;
    let mut connection = app.sql().await;
    diesel::sql_query(
        "UPDATE xp_rules SET tuned_xp = CASE action WHEN 'STORY_LIKED' THEN 7 ELSE 31 END \
         WHERE action IN ('STORY_LIKED', 'ACHIEVEMENT_EARNED')",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    // An older release's rules, which the next migrate replaces.
    diesel::sql_query(
        "UPDATE xp_rules SET default_xp = 1, recipient = 'TARGET', pays_on_own_story = NOT pays_on_own_story, \
                daily_limit = 3, boostable = NOT boostable \
         WHERE action IN ('STORY_READ', 'STORY_LIKED')",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    storyxp::xp::rules_table::seed(&mut connection)
        .await
        .unwrap();
    for row in stored_rules(&mut connection).await {
        let action = XpAction::from_name(&row.action).unwrap();
        let tuned = match action {
            XpAction::StoryLiked => Some(7),
            XpAction::AchievementEarned => Some(31),
            _ => None,
        };
        let seeded = StoredRule::seeded(action.rule());
        assert_eq!(
            row,
            StoredRule {
                tuned_xp: tuned,
                xp: tuned.or(seeded.xp),
                ..seeded
            }
        );
    }
}

/// The hot-path functions run with enable_seqscan = off, which prices any sequential scan
/// at 10^10 and so would have PostgreSQL JIT-compile tiny statements (100 ms each): each
/// of them must turn JIT off too (migration 000010).
#[tokio::test(flavor = "multi_thread")]
async fn functions_without_sequential_scans_run_without_jit() {
    #[derive(diesel::QueryableByName)]
    struct Function {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let app = TestApp::spawn().await;
    let mut connection = app.sql().await;
    let missing: Vec<Function> = diesel::sql_query(
        "SELECT p.oid::regprocedure::text AS name FROM pg_proc p \
          WHERE 'enable_seqscan=off' = ANY (p.proconfig) AND NOT 'jit=off' = ANY (p.proconfig)",
    )
    .load(&mut connection)
    .await
    .unwrap();
    let names: Vec<&str> = missing
        .iter()
        .map(|function| function.name.as_str())
        .collect();
    assert_eq!(names, Vec::<&str>::new());
}
