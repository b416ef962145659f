//! Friends and leaderboards.

use serde_json::json;

use crate::common::{TestApp, TestUser, sign_up_many};

const ADD: &str = "mutation($id: ID!) { addFriend(userId: $id) { user { username } status xpEarned { action xpGained achievements { key } } } }";
const REMOVE: &str = "mutation($id: ID!) { removeFriend(userId: $id) { user { username } } }";
const BOARD: &str = "query($scope: LeaderboardScope!, $first: Int!) { leaderboard(scope: $scope, first: $first) { rank experiencePoints level user { username } } }";

async fn befriend(app: &TestApp, a: &TestUser, b: &TestUser) {
    app.ok(Some(&a.token), ADD, json!({ "id": b.id })).await;
    app.ok(Some(&b.token), ADD, json!({ "id": a.id })).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn friends_form_when_both_add_and_both_earn_twenty_once_ever() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let request = app
        .ok(Some(&alice.token), ADD, json!({ "id": bob.id }))
        .await;
    assert_eq!(
        request["addFriend"],
        json!({ "user": { "username": "bob" }, "status": "PENDING", "xpEarned": null })
    );
    let accept = app
        .ok(Some(&bob.token), ADD, json!({ "id": alice.id }))
        .await;
    assert_eq!(accept["addFriend"]["status"], "FRIENDS");
    assert_eq!(
        accept["addFriend"]["xpEarned"],
        json!({ "action": "FRIEND_ADDED", "xpGained": 20, "achievements": [] })
    );
    assert_eq!((app.xp(&alice).await, app.xp(&bob).await), (20, 20));
    let again = app
        .ok(Some(&alice.token), ADD, json!({ "id": bob.id }))
        .await;
    assert_eq!(again["addFriend"]["status"], "FRIENDS");
    assert_eq!(again["addFriend"]["xpEarned"], json!(null));

    app.ok(Some(&alice.token), REMOVE, json!({ "id": bob.id }))
        .await;
    let after_remove = app
        .ok(Some(&bob.token), ADD, json!({ "id": alice.id }))
        .await;
    assert_eq!(
        after_remove["addFriend"]["status"], "PENDING",
        "removal ended it for both"
    );
    let reformed = app
        .ok(Some(&alice.token), ADD, json!({ "id": bob.id }))
        .await;
    assert_eq!(reformed["addFriend"]["status"], "FRIENDS");
    assert_eq!(
        reformed["addFriend"]["xpEarned"],
        json!(null),
        "re-forming earns nothing"
    );
    assert_eq!((app.xp(&alice).await, app.xp(&bob).await), (20, 20));
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_parallel_add_friend_calls_from_both_sides_award_once() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let calls = (0..10).map(|n| {
        let (from, to) = if n % 2 == 0 {
            (&alice, &bob)
        } else {
            (&bob, &alice)
        };
        app.ok(Some(&from.token), ADD, json!({ "id": to.id }))
    });
    let results = futures_util::future::join_all(calls).await;
    assert_eq!(
        results
            .iter()
            .filter(|data| !data["addFriend"]["xpEarned"].is_null())
            .count(),
        1
    );
    assert_eq!((app.xp(&alice).await, app.xp(&bob).await), (20, 20));
}

#[tokio::test(flavor = "multi_thread")]
async fn five_friends_unlock_social_butterfly() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    for friend in sign_up_many(&app, "pal", 5).await {
        befriend(&app, &alice, &friend).await;
    }
    assert_eq!(app.xp(&alice).await, 5 * 20 + 30);
    let me = app
        .ok(
            Some(&alice.token),
            "{ me { achievements { key } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["me"]["achievements"],
        json!([{ "key": "SOCIAL_BUTTERFLY" }])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn befriending_yourself_or_nobody_is_refused() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    for (token, id, code, message) in [
        (
            Some(alice.token.as_str()),
            alice.id.as_str(),
            "BAD_USER_INPUT",
            "you cannot add yourself as a friend",
        ),
        (
            Some(alice.token.as_str()),
            "424242",
            "NOT_FOUND",
            "user not found",
        ),
        (
            None,
            "1",
            "UNAUTHENTICATED",
            "you must be signed in to do this",
        ),
    ] {
        let body = app.graphql(token, ADD, json!({ "id": id })).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], code, "{body}");
        assert_eq!(body["errors"][0]["message"], message, "{body}");
        assert_eq!(body["data"], json!(null), "{body}");
    }
    assert_eq!(app.xp(&alice).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_leaderboard_ranks_ties_together_and_orders_by_username() {
    let app = TestApp::spawn().await;
    let users = [
        app.sign_up("dora").await,
        app.sign_up("carl").await,
        app.sign_up("bea").await,
        app.sign_up("abe").await,
    ];
    let (dora, carl, bea, abe) = (&users[0], &users[1], &users[2], &users[3]);
    app.create_story(dora, "one").await; // 130
    app.create_story(carl, "one").await; // 130
    app.create_story(bea, "one").await;
    app.create_story(bea, "two").await; // 230
    let _ = abe; // 0
    let board = app
        .ok(None, BOARD, json!({ "scope": "GLOBAL", "first": 10 }))
        .await;
    let rows: Vec<(i64, String, i64)> = board["leaderboard"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["rank"].as_i64().unwrap(),
                row["user"]["username"].as_str().unwrap().to_string(),
                row["experiencePoints"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (1, "bea".into(), 230),
            (2, "carl".into(), 130),
            (2, "dora".into(), 130),
            (4, "abe".into(), 0)
        ]
    );
    let top_two = app
        .ok(None, BOARD, json!({ "scope": "GLOBAL", "first": 2 }))
        .await;
    assert_eq!(
        top_two["leaderboard"],
        json!([
            { "rank": 1, "experiencePoints": 230, "level": 1, "user": { "username": "bea" } },
            { "rank": 2, "experiencePoints": 130, "level": 1, "user": { "username": "carl" } }
        ])
    );
    assert_eq!(
        app.error_code(None, BOARD, json!({ "scope": "GLOBAL", "first": 101 }))
            .await,
        "BAD_USER_INPUT"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_friends_leaderboard_holds_the_caller_and_mutual_friends_only() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let carol = app.sign_up("carol").await;
    let dave = app.sign_up("dave").await;
    befriend(&app, &alice, &bob).await; // both 20
    app.ok(Some(&alice.token), ADD, json!({ "id": carol.id }))
        .await; // pending only
    app.create_story(&dave, "big").await; // a stranger with more XP
    let board = app
        .ok(
            Some(&alice.token),
            BOARD,
            json!({ "scope": "FRIENDS", "first": 10 }),
        )
        .await;
    assert_eq!(
        board["leaderboard"],
        json!([
            { "rank": 1, "experiencePoints": 20, "level": 1, "user": { "username": "alice" } },
            { "rank": 1, "experiencePoints": 20, "level": 1, "user": { "username": "bob" } }
        ])
    );
    assert_eq!(
        app.error_code(None, BOARD, json!({ "scope": "FRIENDS", "first": 10 }))
            .await,
        "UNAUTHENTICATED"
    );
}

/// Rows of `users` a statement of this transaction read, by index or by scan.
#[derive(diesel::QueryableByName)]
struct UsersRead {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    rows: i64,
}

async fn users_read(connection: &mut diesel_async::AsyncPgConnection) -> i64 {
    use diesel_async::RunQueryDsl;
    diesel::sql_query(
        "SELECT (coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0))::BIGINT AS rows \
         FROM pg_stat_xact_user_tables WHERE relname = 'users'",
    )
    .get_result::<UsersRead>(connection)
    .await
    .unwrap()
    .rows
}

/// A page of the board reads about a page of users, however many share its last XP
/// total (the growth benchmark had 80,000 at the top and a page took 1.4 s), and the
/// ranks stay the global ones.
#[tokio::test(flavor = "multi_thread")]
async fn a_leaderboard_page_reads_its_rows_only_even_when_thousands_tie() {
    use diesel_async::RunQueryDsl;
    use storyxp::domain::social::leaderboard::{LeaderboardScope, top};
    let app = TestApp::spawn().await;
    let mut connection = app.sql().await;
    for sql in [
        "INSERT INTO users (username, email, password_hash) \
         SELECT 'user' || g, 'user' || g || '@example.com', 'x' FROM generate_series(1, 5000) g",
        // Everyone at 10 XP, user1 at 20 (through the ledger, as every award goes).
        "INSERT INTO xp_ledger (recipient_id, action, subject, amount) \
         SELECT id, 'STORY_READ', 'seed', 10 FROM users",
        "INSERT INTO xp_ledger (recipient_id, action, subject, amount) \
         SELECT id, 'STORY_READ', 'seed again', 10 FROM users WHERE username = 'user1'",
        // user1's mutual friends: user2..user4.
        "INSERT INTO friend_requests (requester_id, addressee_id) \
         SELECT a.id, b.id FROM users a, users b \
          WHERE (a.username = 'user1' AND b.username IN ('user2', 'user3', 'user4')) \
             OR (b.username = 'user1' AND a.username IN ('user2', 'user3', 'user4'))",
        "ANALYZE",
    ] {
        diesel::sql_query(sql)
            .execute(&mut connection)
            .await
            .unwrap();
    }
    let board = app
        .ok(None, BOARD, json!({ "scope": "GLOBAL", "first": 3 }))
        .await;
    assert_eq!(
        board["leaderboard"],
        json!([
            { "rank": 1, "experiencePoints": 20, "level": 1, "user": { "username": "user1" } },
            { "rank": 2, "experiencePoints": 10, "level": 1, "user": { "username": "user10" } },
            { "rank": 2, "experiencePoints": 10, "level": 1, "user": { "username": "user100" } }
        ])
    );
    let user1: i64 = {
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            id: i64,
        }
        diesel::sql_query("SELECT id FROM users WHERE username = 'user1'")
            .get_result::<Id>(&mut connection)
            .await
            .unwrap()
            .id
    };
    for (scope, caller, limit, rows, most) in [
        (LeaderboardScope::Global, None, 50, 50, 60),
        (LeaderboardScope::Friends, Some(user1), 100, 4, 10),
    ] {
        diesel::sql_query("BEGIN")
            .execute(&mut connection)
            .await
            .unwrap();
        let before = users_read(&mut connection).await;
        let page = top(&mut connection, scope, caller, limit).await.unwrap();
        let read = users_read(&mut connection).await - before;
        diesel::sql_query("ROLLBACK")
            .execute(&mut connection)
            .await
            .unwrap();
        assert_eq!(page.len(), rows, "{scope:?}");
        assert_eq!(page[0].rank, 1, "{scope:?}");
        assert!(page[1..].iter().all(|row| row.rank == 2), "{scope:?}");
        assert!(
            read <= most,
            "the {scope:?} board read {read} rows of users for a page of {rows}"
        );
    }
}
