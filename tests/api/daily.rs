//! The daily loop through the API, on the test clock (`X-Storyxp-Now`): timezones,
//! streaks with freezes, daily quests, daily caps, and what a call earned.

use diesel::sql_types::{BigInt, Date, Text};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::common::{TestApp, TestUser, sign_up_many};

const CHARACTER: &str = "mutation { createCharacter(input: { name: \"Hero\", description: \"\" }) { xpEarned { action xpGained events { action xpGained } } } }";
const STREAK: &str = "query($id: ID!) { user(id: $id) { streak { current longest lastActiveDate activeToday freezes } } }";
const QUESTS: &str = "{ me { dailyQuests { key target progress completed claimed xp date } } }";
const CLAIM: &str = "mutation($key: QuestKey!, $date: String) { claimQuestReward(key: $key, date: $date) { quest { key claimed } xpEarned { action xpGained events { action xpGained } } } }";

/// Noon UTC of day `n` (1-based) of June 2026.
fn june(n: u32) -> String {
    let date =
        chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap() + chrono::Days::new(u64::from(n - 1));
    format!("{date}T12:00:00Z")
}

async fn streak_at(app: &TestApp, now: &str, user: &TestUser) -> Value {
    app.ok_at(now, None, STREAK, json!({ "id": user.id })).await["user"]["streak"].clone()
}

/// One activity (a character) at `now`; what it earned.
async fn act_at(app: &TestApp, now: &str, user: &TestUser) -> Value {
    app.ok_at(now, Some(&user.token), CHARACTER, json!({}))
        .await["createCharacter"]["xpEarned"]
        .clone()
}

async fn set_timezone(app: &TestApp, now: &str, user: &TestUser, zone: &str) -> Value {
    app.graphql_at(
        Some(now),
        Some(&user.token),
        "mutation($tz: String!) { updateProfile(input: { timezone: $tz }) { user { timezone } } }",
        json!({ "tz": zone }),
    )
    .await
}

async fn ledger_count(app: &TestApp, user: &TestUser, action: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    let row: Count = diesel::sql_query(
        "SELECT count(*) AS count FROM xp_ledger WHERE recipient_id = $1 AND action = $2",
    )
    .bind::<BigInt, _>(user.id.parse::<i64>().unwrap())
    .bind::<Text, _>(action)
    .get_result(&mut app.sql().await)
    .await
    .unwrap();
    row.count
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thirty_day_streak_with_two_freezes_pays_its_bonuses_and_achievements() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    // Day 1: current 1, no bonus (only the character's 25).
    assert_eq!(act_at(&app, &june(1), &alice).await["xpGained"], 25);
    // Day 2: 5 * 2 = 10 more, a STREAK_BONUS entry of its own in events.
    let day2 = act_at(&app, &june(2), &alice).await;
    assert_eq!(day2["xpGained"], 35);
    assert_eq!(day2["action"], "CHARACTER_CREATED");
    assert_eq!(
        day2["events"],
        json!([{ "action": "STREAK_BONUS", "xpGained": 10 }, { "action": "CHARACTER_CREATED", "xpGained": 25 }])
    );
    // A second activity the same day pays no second bonus.
    assert_eq!(
        act_at(&app, &june(2).replace("12:00", "18:00"), &alice).await["xpGained"],
        25
    );
    for day in 3..=14 {
        let earned = act_at(&app, &june(day), &alice).await;
        let bonus = 5 * i64::from(day.min(10));
        // Day 7 also unlocks WEEK_STREAK (70); CHARACTER_DESIGNER came with the 5th character.
        let achievements: i64 = match day {
            7 => 70,
            4 => 30,
            _ => 0,
        };
        assert_eq!(
            earned["xpGained"],
            25 + bonus + achievements,
            "day {day}: {earned}"
        );
    }
    let streak = streak_at(&app, &june(14), &alice).await;
    assert_eq!(
        streak,
        json!({ "current": 14, "longest": 14, "lastActiveDate": "2026-06-14", "activeToday": true, "freezes": 2 })
    );
    // Days 15 and 16 are missed: on day 16 the streak can still continue (2 freezes).
    assert_eq!(streak_at(&app, &june(16), &alice).await["current"], 14);
    // Day 17 spends both freezes and continues: 15.
    act_at(&app, &june(17), &alice).await;
    assert_eq!(
        streak_at(&app, &june(17), &alice).await,
        json!({ "current": 15, "longest": 15, "lastActiveDate": "2026-06-17", "activeToday": true, "freezes": 0 })
    );
    let mut month = Value::Null;
    for day in 18..=32 {
        let earned = act_at(&app, &june(day), &alice).await;
        if day == 32 {
            month = earned;
        }
    }
    // Day 32 is the streak's 30th day: 50 bonus + MONTH_STREAK's 300.
    assert_eq!(month["xpGained"], 25 + 50 + 300);
    let streak = streak_at(&app, &june(32), &alice).await;
    // Freezes earned at 21 and 28.
    assert_eq!(
        streak,
        json!({ "current": 30, "longest": 30, "lastActiveDate": "2026-07-02", "activeToday": true, "freezes": 2 })
    );
    assert_eq!(ledger_count(&app, &alice, "STREAK_BONUS").await, 29);
    let me = app
        .ok(
            Some(&alice.token),
            "{ me { achievements { key } } }",
            json!({}),
        )
        .await;
    let keys: Vec<&str> = me["me"]["achievements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|achievement| achievement["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"WEEK_STREAK") && keys.contains(&"MONTH_STREAK"),
        "{keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gap_without_freezes_breaks_the_streak() {
    let app = TestApp::spawn().await;
    let bob = app.sign_up("bob").await;
    act_at(&app, &june(1), &bob).await;
    act_at(&app, &june(2), &bob).await;
    assert_eq!(streak_at(&app, &june(3), &bob).await["current"], 2);
    // Day 3 missed: on day 4 it can no longer continue.
    let broken = streak_at(&app, &june(4), &bob).await;
    assert_eq!(
        broken,
        json!({ "current": 0, "longest": 2, "lastActiveDate": "2026-06-02", "activeToday": false, "freezes": 0 })
    );
    // The next activity starts again at 1 and pays no bonus.
    assert_eq!(act_at(&app, &june(4), &bob).await["xpGained"], 25);
    assert_eq!(streak_at(&app, &june(4), &bob).await["current"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_parallel_first_actions_of_a_day_pay_one_bonus_and_count_one_day() {
    let app = TestApp::spawn().await;
    let carol = app.sign_up("carol").await;
    act_at(&app, &june(1), &carol).await;
    let day2 = june(2);
    let calls = (0..20).map(|_| act_at(&app, &day2, &carol));
    let earned: Vec<Value> = futures_util::future::join_all(calls).await;
    let bonuses = earned
        .iter()
        .filter(|award| {
            // Past the day's cap of 10 characters a call earns nothing (null).
            award["events"]
                .as_array()
                .is_some_and(|events| events.iter().any(|event| event["action"] == "STREAK_BONUS"))
        })
        .count();
    assert_eq!(bonuses, 1);
    assert_eq!(ledger_count(&app, &carol, "STREAK_BONUS").await, 1);
    assert_eq!(streak_at(&app, &day2, &carol).await["current"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn local_dates_follow_the_zone_across_dst_nights_and_date_lines() {
    let app = TestApp::spawn().await;
    let [ny, howe, east, west] =
        <[TestUser; 4]>::try_from(sign_up_many(&app, "tz", 4).await).unwrap();
    // New York: 23:30 local on the 7th (EST) and on the 8th (EDT; that night has 23 hours).
    assert_eq!(
        set_timezone(&app, "2026-03-01T00:00:00Z", &ny, "America/New_York").await["data"]["updateProfile"]
            ["user"]["timezone"],
        "America/New_York"
    );
    act_at(&app, "2026-03-08T04:30:00Z", &ny).await;
    act_at(&app, "2026-03-09T03:30:00Z", &ny).await;
    assert_eq!(
        streak_at(&app, "2026-03-09T03:30:00Z", &ny).await,
        json!({ "current": 2, "longest": 2, "lastActiveDate": "2026-03-08", "activeToday": true, "freezes": 0 })
    );
    // The autumn night (25 hours): 00:30 local on Nov 1, then 23:30 local on Nov 1 is
    // the same date, 00:10 on Nov 2 the next.
    let ny2 = app.sign_up("ny2").await;
    set_timezone(&app, "2026-10-01T00:00:00Z", &ny2, "America/New_York").await;
    act_at(&app, "2026-11-01T04:30:00Z", &ny2).await; // 00:30 EDT
    act_at(&app, "2026-11-02T04:30:00Z", &ny2).await; // 23:30 EST, still Nov 1
    assert_eq!(
        streak_at(&app, "2026-11-02T04:30:00Z", &ny2).await["current"],
        1
    );
    act_at(&app, "2026-11-02T05:10:00Z", &ny2).await; // 00:10 EST, Nov 2
    assert_eq!(
        streak_at(&app, "2026-11-02T05:10:00Z", &ny2).await["current"],
        2
    );
    // Lord Howe moves by 30 minutes (UTC+11 to +10:30 on 2026-04-05, 02:00 local).
    set_timezone(&app, "2026-03-01T00:00:00Z", &howe, "Australia/Lord_Howe").await;
    act_at(&app, "2026-04-04T12:50:00Z", &howe).await; // 23:50 +11, Apr 4
    act_at(&app, "2026-04-05T13:20:00Z", &howe).await; // 23:50 +10:30, Apr 5
    assert_eq!(
        streak_at(&app, "2026-04-05T13:20:00Z", &howe).await["lastActiveDate"],
        "2026-04-05"
    );
    assert_eq!(
        streak_at(&app, "2026-04-05T13:20:00Z", &howe).await["current"],
        2
    );
    // +14 and -12: one instant, three dates.
    set_timezone(&app, "2026-05-01T00:00:00Z", &east, "Pacific/Kiritimati").await;
    set_timezone(&app, "2026-05-01T00:00:00Z", &west, "Etc/GMT+12").await;
    let instant = "2026-06-01T10:30:00Z";
    act_at(&app, instant, &east).await;
    act_at(&app, instant, &west).await;
    assert_eq!(
        streak_at(&app, instant, &east).await["lastActiveDate"],
        "2026-06-02"
    );
    assert_eq!(
        streak_at(&app, instant, &west).await["lastActiveDate"],
        "2026-05-31"
    );
    let quests = app
        .ok_at(instant, Some(&east.token), QUESTS, json!({}))
        .await;
    assert_eq!(quests["me"]["dailyQuests"][0]["date"], "2026-06-02");
    // Midnight edges: 23:59:59 and 00:00:00 local are two dates.
    let edge = app.sign_up("edge").await;
    act_at(&app, "2026-06-10T23:59:59Z", &edge).await;
    act_at(&app, "2026-06-11T00:00:00Z", &edge).await;
    assert_eq!(
        streak_at(&app, "2026-06-11T00:00:00Z", &edge).await["current"],
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_timezone_changes_once_a_day_and_never_counts_a_day_twice() {
    let app = TestApp::spawn().await;
    let dan = app.sign_up("dan").await;
    let me = app
        .ok(Some(&dan.token), "{ me { timezone } }", json!({}))
        .await;
    assert_eq!(me["me"]["timezone"], "UTC");
    let unknown = set_timezone(&app, &june(1), &dan, "Mars/Olympus").await;
    assert_eq!(unknown["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(
        unknown["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not a timezone")
    );
    // 23:00 UTC on June 1 is already June 2 in Tokyo.
    act_at(&app, "2026-06-01T23:00:00Z", &dan).await;
    set_timezone(&app, "2026-06-01T23:10:00Z", &dan, "Asia/Tokyo").await;
    let second = set_timezone(&app, "2026-06-02T10:00:00Z", &dan, "America/Los_Angeles").await;
    assert_eq!(second["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(
        second["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("24 hours")
    );
    assert_eq!(
        app.ok(Some(&dan.token), "{ me { timezone } }", json!({}))
            .await["me"]["timezone"],
        "Asia/Tokyo"
    );
    // In Tokyo it is June 2: a new day, streak 2.
    act_at(&app, "2026-06-01T23:20:00Z", &dan).await;
    assert_eq!(
        streak_at(&app, "2026-06-01T23:20:00Z", &dan).await["current"],
        2
    );
    // 24 hours later the zone may change: back to Los Angeles, where it is June 2 again
    // (a date not later than lastActiveDate): no day counted twice.
    let back = set_timezone(&app, "2026-06-02T23:15:00Z", &dan, "America/Los_Angeles").await;
    assert!(back.get("errors").is_none(), "{back}");
    act_at(&app, "2026-06-02T23:30:00Z", &dan).await;
    let streak = streak_at(&app, "2026-06-02T23:30:00Z", &dan).await;
    assert_eq!(streak["current"], 2);
    assert_eq!(streak["lastActiveDate"], "2026-06-02");
    assert_eq!(ledger_count(&app, &dan, "STREAK_BONUS").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_clock_header_is_a_bad_request() {
    let app = TestApp::spawn().await;
    let body = app
        .graphql_at(
            Some("yesterday at noon"),
            None,
            "{ xpRewards { action } }",
            json!({}),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("X-Storyxp-Now")
    );
    assert!(body.get("data").is_none() || body["data"].is_null());
}

/// The three quests of 10,000 (user, date) pairs: distinct, the same on every call, and
/// each quest of the catalog drawn equally often (3/7 of the pairs, within 5%).
#[tokio::test(flavor = "multi_thread")]
async fn quests_are_deterministic_distinct_and_spread_evenly() {
    #[derive(diesel::QueryableByName)]
    struct Draw {
        #[diesel(sql_type = BigInt)]
        user_id: i64,
        #[diesel(sql_type = Date)]
        date: chrono::NaiveDate,
        #[diesel(sql_type = diesel::sql_types::Array<Text>)]
        keys: Vec<String>,
    }
    let app = TestApp::spawn().await;
    let query = "SELECT u::BIGINT AS user_id, DATE '2026-01-01' + d AS date, xp_quest_keys(u, DATE '2026-01-01' + d) AS keys \
                 FROM generate_series(1, 100) u, generate_series(0, 99) d ORDER BY 1, 2";
    let mut connection = app.sql().await;
    let draws: Vec<Draw> = diesel::sql_query(query)
        .load(&mut connection)
        .await
        .unwrap();
    let again: Vec<Draw> = diesel::sql_query(query)
        .load(&mut connection)
        .await
        .unwrap();
    assert_eq!(draws.len(), 10_000);
    let mut counts = std::collections::HashMap::new();
    let mut combinations = std::collections::HashSet::new();
    for (draw, same) in draws.iter().zip(&again) {
        assert_eq!(draw.keys, same.keys, "{} on {}", draw.user_id, draw.date);
        let distinct: std::collections::HashSet<&String> = draw.keys.iter().collect();
        assert_eq!(distinct.len(), 3, "{:?}", draw.keys);
        for key in &draw.keys {
            assert!(
                storyxp::xp::rules::QuestKey::from_code(key).is_some(),
                "{key}"
            );
            *counts.entry(key.clone()).or_insert(0) += 1;
        }
        combinations.insert(draw.keys.clone());
    }
    assert_eq!(counts.len(), 7);
    for (key, count) in &counts {
        let expected = 30_000.0 / 7.0;
        assert!(
            (f64::from(*count) - expected).abs() < expected * 0.05,
            "{key}: {count}"
        );
    }
    assert_eq!(combinations.len(), 35, "every combination of three is used");
    // Varied: one user's quests change from one day to the next, and two users' differ.
    assert_ne!(draws[0].keys, draws[1].keys);
    assert_ne!(draws[0].keys, draws[100].keys);
}

/// Does what `key` asks of `user` at `now` (with `other`'s published story `story`).
async fn do_quest(
    app: &TestApp,
    now: &str,
    user: &TestUser,
    other: &TestUser,
    story: &str,
    key: &str,
) {
    let run = |query: &'static str, variables: Value| async move {
        app.ok_at(now, Some(&user.token), query, variables).await;
    };
    match key {
        "LIKE_STORIES" | "READ_STORIES" | "COMMENT_ON_STORIES" => {
            for n in 0..3 {
                let id = if n == 0 {
                    story.to_string()
                } else {
                    let id = app.create_story(other, &format!("Extra {n}")).await;
                    app.ok(Some(&other.token), "mutation($id: ID!) { publishStory(id: $id) { story { id } } }", json!({ "id": id })).await;
                    id
                };
                match key {
                    "LIKE_STORIES" => run("mutation($id: ID!) { likeStory(id: $id) { story { id } } }", json!({ "id": id })).await,
                    "READ_STORIES" => run("mutation($id: ID!) { readStory(id: $id) { story { id } } }", json!({ "id": id })).await,
                    _ => run("mutation($id: ID!) { commentOnStory(storyId: $id, body: \"Nice\") { comment { id } } }", json!({ "id": id })).await,
                }
            }
        }
        "WRITE_STORY" => run("mutation { createStory(input: { title: \"Q\", content: \"\" }) { story { id } } }", json!({})).await,
        "PUBLISH_STORY" => {
            let id = app
                .ok_at(now, Some(&user.token), "mutation { createStory(input: { title: \"P\", content: \"\" }) { story { id } } }", json!({}))
                .await["createStory"]["story"]["id"]
                .clone();
            run("mutation($id: ID!) { publishStory(id: $id) { story { id } } }", json!({ "id": id })).await;
        }
        "CREATE_CHARACTER" => run("mutation { createCharacter(input: { name: \"Q\", description: \"\" }) { character { id } } }", json!({})).await,
        "MAKE_FRIEND" => run("mutation($id: ID!) { addFriend(userId: $id) { status } }", json!({ "id": other.id })).await,
        other => panic!("no way to do {other}"),
    }
}

async fn quests_at(app: &TestApp, now: &str, user: &TestUser) -> Vec<Value> {
    app.ok_at(now, Some(&user.token), QUESTS, json!({})).await["me"]["dailyQuests"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn quests_progress_by_date_and_pay_once_when_claimed() {
    let app = TestApp::spawn().await;
    let erin = app.sign_up("erin").await;
    let frank = app.sign_up("frank").await;
    let story = app.create_published_story(&frank, "Frank's").await;
    let day1 = june(1);
    let quests = quests_at(&app, &day1, &erin).await;
    assert_eq!(quests.len(), 3);
    assert!(
        quests
            .iter()
            .all(|quest| quest["progress"] == 0 && quest["date"] == "2026-06-01")
    );
    // Another user's quests are not visible.
    let others = app
        .ok(
            Some(&frank.token),
            "query($id: ID!) { user(id: $id) { dailyQuests { key } } }",
            json!({ "id": erin.id }),
        )
        .await;
    assert_eq!(others["user"]["dailyQuests"], Value::Null);
    let first = quests[0]["key"].as_str().unwrap().to_string();
    // Not completed yet: BAD_USER_INPUT.
    let early = app
        .graphql_at(
            Some(&day1),
            Some(&erin.token),
            CLAIM,
            json!({ "key": first }),
        )
        .await;
    assert_eq!(early["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    for quest in &quests {
        do_quest(
            &app,
            &day1,
            &erin,
            &frank,
            &story,
            quest["key"].as_str().unwrap(),
        )
        .await;
    }
    let done = quests_at(&app, &day1, &erin).await;
    assert!(
        done.iter().all(|quest| quest["completed"] == true),
        "{done:?}"
    );
    // The next day has its own quests, untouched by the first day's actions.
    assert!(
        quests_at(&app, &june(2), &erin)
            .await
            .iter()
            .all(|quest| quest["progress"] == 0)
    );
    // 20 parallel claims of the first quest: one pays.
    let claims = (0..20).map(|_| {
        app.graphql_at(
            Some(&day1),
            Some(&erin.token),
            CLAIM,
            json!({ "key": first }),
        )
    });
    let answers = futures_util::future::join_all(claims).await;
    let paid: Vec<&Value> = answers
        .iter()
        .filter(|answer| answer.get("errors").is_none())
        .collect();
    assert_eq!(paid.len(), 1, "{answers:?}");
    let xp = quests[0]["xp"].as_i64().unwrap();
    assert_eq!(
        paid[0]["data"]["claimQuestReward"]["xpEarned"]["xpGained"],
        xp
    );
    assert_eq!(
        paid[0]["data"]["claimQuestReward"]["xpEarned"]["action"],
        "QUEST_COMPLETED"
    );
    assert!(
        answers
            .iter()
            .filter(|answer| answer.get("errors").is_some())
            .all(|answer| answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT")
    );
    // The third claim (on the next day, naming the date) also pays DAILY_QUESTS_CLEARED.
    let second = quests[1]["key"].as_str().unwrap();
    app.ok_at(
        &june(2),
        Some(&erin.token),
        CLAIM,
        json!({ "key": second, "date": "2026-06-01" }),
    )
    .await;
    let third = quests[2]["key"].as_str().unwrap();
    let last = app
        .ok_at(
            &june(2),
            Some(&erin.token),
            CLAIM,
            json!({ "key": third, "date": "2026-06-01" }),
        )
        .await;
    let award = &last["claimQuestReward"]["xpEarned"];
    assert_eq!(award["xpGained"], quests[2]["xp"].as_i64().unwrap() + 50);
    assert_eq!(
        award["events"],
        json!([{ "action": "QUEST_COMPLETED", "xpGained": quests[2]["xp"] }, { "action": "DAILY_QUESTS_CLEARED", "xpGained": 50 }])
    );
    assert_eq!(ledger_count(&app, &erin, "QUEST_COMPLETED").await, 3);
    assert_eq!(ledger_count(&app, &erin, "DAILY_QUESTS_CLEARED").await, 1);
    // A date without that quest, and a bad date: BAD_USER_INPUT.
    let bad = app
        .graphql_at(
            Some(&day1),
            Some(&erin.token),
            CLAIM,
            json!({ "key": first, "date": "June 1st" }),
        )
        .await;
    assert_eq!(bad["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread")]
async fn thirty_parallel_stories_at_nine_of_ten_pay_exactly_one_more() {
    let app = TestApp::spawn().await;
    let gina = app.sign_up("gina").await;
    let day = june(3);
    let create = "mutation { createStory(input: { title: \"Capped\", content: \"\" }) { xpEarned { xpGained } } }";
    for _ in 0..9 {
        app.ok_at(&day, Some(&gina.token), create, json!({})).await;
    }
    let calls = (0..30).map(|_| app.ok_at(&day, Some(&gina.token), create, json!({})));
    let answers = futures_util::future::join_all(calls).await;
    let paid = answers
        .iter()
        .filter(|answer| !answer["createStory"]["xpEarned"].is_null())
        .count();
    assert_eq!(paid, 1, "{answers:?}");
    assert_eq!(ledger_count(&app, &gina, "STORY_CREATED").await, 10);
    // The next day pays again.
    let next = app
        .ok_at(&june(4), Some(&gina.token), create, json!({}))
        .await;
    assert!(
        next["createStory"]["xpEarned"]["xpGained"]
            .as_i64()
            .unwrap()
            >= 100
    );
    // backfill-xp never pays what a cap refused.
    let output = crate::common::storyxp_command(&app, &["backfill-xp"])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(ledger_count(&app, &gina, "STORY_CREATED").await, 11);
    // The caps are published.
    let rewards = app
        .ok(None, "{ xpRewards { action dailyLimit } }", json!({}))
        .await;
    let limit = |action: &str| {
        rewards["xpRewards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["action"] == action)
            .unwrap()["dailyLimit"]
            .clone()
    };
    assert_eq!(limit("STORY_CREATED"), 10);
    assert_eq!(limit("STORY_READ"), 30);
    assert_eq!(limit("STORY_LIKED"), Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_like_and_a_comment_report_the_callers_streak_bonus() {
    let app = TestApp::spawn().await;
    let hank = app.sign_up("hank").await;
    let ivy = app.sign_up("ivy").await;
    let story = app.create_published_story(&ivy, "Ivy's").await;
    act_at(&app, &june(1), &hank).await;
    let like = app
        .ok_at(
            &june(2),
            Some(&hank.token),
            "mutation($id: ID!) { likeStory(id: $id) { xpEarned { action xpGained } callerXpEarned { action xpGained totalXp events { action xpGained } } } }",
            json!({ "id": story }),
        )
        .await;
    assert_eq!(
        like["likeStory"]["xpEarned"],
        json!({ "action": "STORY_LIKED", "xpGained": 5 })
    );
    assert_eq!(
        like["likeStory"]["callerXpEarned"]["action"],
        "STREAK_BONUS"
    );
    assert_eq!(like["likeStory"]["callerXpEarned"]["xpGained"], 10);
    assert_eq!(
        like["likeStory"]["callerXpEarned"]["events"],
        json!([{ "action": "STREAK_BONUS", "xpGained": 10 }])
    );
    let comment = app
        .ok_at(
            &june(2),
            Some(&hank.token),
            "mutation($id: ID!) { commentOnStory(storyId: $id, body: \"Lovely\") { xpEarned { xpGained } callerXpEarned { xpGained } } }",
            json!({ "id": story }),
        )
        .await;
    assert_eq!(comment["commentOnStory"]["xpEarned"]["xpGained"], 10);
    assert_eq!(comment["commentOnStory"]["callerXpEarned"], Value::Null);
    let comment = app
        .ok_at(
            &june(3),
            Some(&hank.token),
            "mutation($id: ID!) { commentOnStory(storyId: $id, body: \"Again\") { callerXpEarned { action xpGained } } }",
            json!({ "id": story }),
        )
        .await;
    assert_eq!(
        comment["commentOnStory"]["callerXpEarned"],
        json!({ "action": "STREAK_BONUS", "xpGained": 15 })
    );
}
