//! Stories and likes: what each action earns, its dedupe, and visibility.

use serde_json::json;

use crate::common::{TestApp, sign_up_many};

const CREATE: &str = "mutation($input: CreateStoryInput!) { createStory(input: $input) { story { id title published author { username } } xpEarned { action xpGained totalXp level leveledUp achievements { key earnedAt } } } }";
const PUBLISH: &str = "mutation($id: ID!) { publishStory(id: $id) { story { published } xpEarned { action xpGained totalXp achievements { key } } } }";
const LIKE: &str = "mutation($id: ID!) { likeStory(id: $id) { story { likeCount } xpEarned { action xpGained totalXp achievements { key } } } }";
const UNLIKE: &str = "mutation($id: ID!) { unlikeStory(id: $id) { story { likeCount } } }";

#[tokio::test(flavor = "multi_thread")]
async fn creating_a_story_earns_100_and_first_story() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    // Whole seconds around the call: the server's clock and RFC 3339 may drop fractions.
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let data = app
        .ok(
            Some(&alice.token),
            CREATE,
            json!({ "input": { "title": "  Dawn ", "content": "It began." } }),
        )
        .await;
    let after = chrono::Utc::now() + chrono::Duration::seconds(1);
    let payload = &data["createStory"];
    assert_eq!(payload["story"]["title"], "Dawn");
    assert_eq!(payload["story"]["published"], false);
    assert_eq!(payload["story"]["author"]["username"], "alice");
    let award = &payload["xpEarned"];
    assert_eq!(award["action"], "STORY_CREATED");
    assert_eq!(
        award["xpGained"], 130,
        "100 for the story, 30 for FIRST_STORY"
    );
    assert_eq!(award["totalXp"], 130);
    assert_eq!(award["level"], 1);
    assert_eq!(award["leveledUp"], false);
    assert_eq!(award["achievements"].as_array().unwrap().len(), 1);
    assert_eq!(award["achievements"][0]["key"], "FIRST_STORY");
    let earned_at = award["achievements"][0]["earnedAt"].as_str().unwrap();
    let earned = chrono::DateTime::parse_from_rfc3339(earned_at).unwrap();
    assert_eq!(earned.offset().local_minus_utc(), 0, "UTC: {earned_at}");
    assert!(
        (before..=after).contains(&earned.to_utc()),
        "earned during the call: {earned_at}"
    );
    let second = app
        .ok(
            Some(&alice.token),
            CREATE,
            json!({ "input": { "title": "Dusk", "content": "" } }),
        )
        .await;
    assert_eq!(second["createStory"]["xpEarned"]["xpGained"], 100);
    assert_eq!(second["createStory"]["xpEarned"]["achievements"], json!([]));
    assert_eq!(app.xp(&alice).await, 230);
}

#[tokio::test(flavor = "multi_thread")]
async fn publishing_earns_50_once_ever() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let id = app.create_story(&alice, "Dawn").await;
    let first = app
        .ok(Some(&alice.token), PUBLISH, json!({ "id": id }))
        .await;
    assert_eq!(first["publishStory"]["story"]["published"], true);
    assert_eq!(
        first["publishStory"]["xpEarned"]["xpGained"], 80,
        "50 and FIRST_PUBLISH"
    );
    assert_eq!(first["publishStory"]["xpEarned"]["totalXp"], 210);
    let again = app
        .ok(Some(&alice.token), PUBLISH, json!({ "id": id }))
        .await;
    assert_eq!(again["publishStory"]["story"]["published"], true);
    assert_eq!(again["publishStory"]["xpEarned"], json!(null));
    assert_eq!(app.xp(&alice).await, 210);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_author_publishes_or_deletes() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let draft = app.create_story(&alice, "Draft").await;
    let published = app.create_published_story(&alice, "Out").await;
    assert_eq!(
        app.error_code(Some(&bob.token), PUBLISH, json!({ "id": draft }))
            .await,
        "NOT_FOUND"
    );
    assert_eq!(
        app.error_code(Some(&bob.token), PUBLISH, json!({ "id": published }))
            .await,
        "FORBIDDEN"
    );
    let delete = "mutation($id: ID!) { deleteStory(id: $id) { deletedStoryId } }";
    assert_eq!(
        app.error_code(Some(&bob.token), delete, json!({ "id": published }))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(None, delete, json!({ "id": published }))
            .await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.error_code(
            None,
            CREATE,
            json!({ "input": { "title": "x", "content": "y" } })
        )
        .await,
        "UNAUTHENTICATED"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn like_unlike_like_again_earns_five_once() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let id = app.create_published_story(&alice, "Dawn").await;
    let before = app.xp(&alice).await;
    let first = app.ok(Some(&bob.token), LIKE, json!({ "id": id })).await;
    assert_eq!(first["likeStory"]["story"]["likeCount"], 1);
    assert_eq!(first["likeStory"]["xpEarned"]["action"], "STORY_LIKED");
    assert_eq!(first["likeStory"]["xpEarned"]["xpGained"], 5);
    assert_eq!(first["likeStory"]["xpEarned"]["totalXp"], before + 5);
    let unliked = app.ok(Some(&bob.token), UNLIKE, json!({ "id": id })).await;
    assert_eq!(unliked["unlikeStory"]["story"]["likeCount"], 0);
    let again = app.ok(Some(&bob.token), LIKE, json!({ "id": id })).await;
    assert_eq!(again["likeStory"]["story"]["likeCount"], 1);
    assert_eq!(again["likeStory"]["xpEarned"], json!(null));
    assert_eq!(
        app.xp(&alice).await,
        before + 5,
        "unliking takes nothing back, liking again adds nothing"
    );
    assert_eq!(app.xp(&bob).await, 0, "the liker earns nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn like_and_create_payloads_carry_the_whole_story() {
    // The like and create statements leave the text out (it can be 100,000
    // characters); the payloads still give it when asked, equal to what `story` reads.
    const FIELDS: &str = "id title content published createdAt likeCount author { username }";
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let content = "Once upon a time, é ✓. ".repeat(4_000);
    let created = app
        .ok(
            Some(&alice.token),
            &format!("mutation($input: CreateStoryInput!) {{ createStory(input: $input) {{ story {{ {FIELDS} }} }} }}"),
            json!({ "input": { "title": "Long", "content": content } }),
        )
        .await;
    let created = &created["createStory"]["story"];
    let id = created["id"].as_str().unwrap().to_string();
    let read = format!("query($id: ID!) {{ story(id: $id) {{ {FIELDS} }} }}");
    let draft = app.ok(Some(&alice.token), &read, json!({ "id": id })).await;
    assert_eq!(created, &draft["story"]);
    assert_eq!(created["content"], content.as_str());
    app.ok(Some(&alice.token), PUBLISH, json!({ "id": id }))
        .await;
    let liked = app
        .ok(
            Some(&bob.token),
            &format!("mutation($id: ID!) {{ likeStory(id: $id) {{ story {{ {FIELDS} }} }} }}"),
            json!({ "id": id }),
        )
        .await;
    let published = app.ok(Some(&bob.token), &read, json!({ "id": id })).await;
    assert_eq!(liked["likeStory"]["story"], published["story"]);
    assert_eq!(published["story"]["content"], content.as_str());
    assert_eq!(published["story"]["likeCount"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn liking_your_own_story_is_accepted_and_earns_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let id = app.create_published_story(&alice, "Mine").await;
    let before = app.xp(&alice).await;
    let data = app.ok(Some(&alice.token), LIKE, json!({ "id": id })).await;
    assert_eq!(data["likeStory"]["story"]["likeCount"], 1);
    assert_eq!(data["likeStory"]["xpEarned"], json!(null));
    assert_eq!(app.xp(&alice).await, before);
    // The count likeStory returns (from the like's own statement) counts every liker.
    let bob = app.sign_up("bob").await;
    let data = app.ok(Some(&bob.token), LIKE, json!({ "id": id })).await;
    assert_eq!(data["likeStory"]["story"]["likeCount"], 2);
    let created = app
        .ok(
            Some(&bob.token),
            "mutation { createStory(input: { title: \"New\", content: \"\" }) { story { likeCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(created["createStory"]["story"]["likeCount"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn forty_concurrent_likers_earn_the_author_exactly_230() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let id = app.create_published_story(&alice, "Hit").await;
    let likers = sign_up_many(&app, "fan", 40).await;
    let before = app.xp(&alice).await;
    let results = futures_util::future::join_all(
        likers
            .iter()
            .map(|liker| app.ok(Some(&liker.token), LIKE, json!({ "id": id }))),
    )
    .await;
    let gained: i64 = results
        .iter()
        .map(|data| data["likeStory"]["xpEarned"]["xpGained"].as_i64().unwrap())
        .sum();
    let crowd_pleasers = results
        .iter()
        .filter(|data| {
            data["likeStory"]["xpEarned"]["achievements"] == json!([{ "key": "CROWD_PLEASER" }])
        })
        .count();
    assert_eq!(gained, 230, "40 x 5 + 30 for CROWD_PLEASER");
    assert_eq!(crowd_pleasers, 1);
    assert_eq!(app.xp(&alice).await, before + 230);
    let achievements = app
        .ok(
            Some(&alice.token),
            "{ me { achievements { key } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        achievements["me"]["achievements"],
        json!([{ "key": "FIRST_STORY" }, { "key": "FIRST_PUBLISH" }, { "key": "CROWD_PLEASER" }])
    );
}

/// Concurrent likes are written in batches (one transaction each); here every writer
/// likes every other writer's story twice at once, so batches share authors and likers.
/// None may deadlock or fail, and each author earns exactly 5 per liker.
#[tokio::test(flavor = "multi_thread")]
async fn everyone_liking_everyone_at_once_earns_exactly_five_per_liker() {
    let app = TestApp::spawn().await;
    let writers = sign_up_many(&app, "writer", 24).await;
    let mut stories = Vec::new();
    for writer in &writers {
        stories.push(app.create_published_story(writer, "Mine").await);
    }
    let mut before = Vec::new();
    for writer in &writers {
        before.push(app.xp(writer).await);
    }
    let likes = writers.iter().enumerate().flat_map(|(liker, writer)| {
        stories
            .iter()
            .enumerate()
            .filter(move |(author, _)| *author != liker)
            .flat_map(move |(_, story)| [(writer, story), (writer, story)])
    });
    let results = futures_util::future::join_all(
        likes.map(|(writer, story)| app.ok(Some(&writer.token), LIKE, json!({ "id": story }))),
    )
    .await;
    let awarded = results
        .iter()
        .filter(|data| !data["likeStory"]["xpEarned"].is_null())
        .count();
    assert_eq!(awarded, 24 * 23, "one award per (liker, story) pair");
    for (writer, before) in writers.iter().zip(before) {
        assert_eq!(app.xp(writer).await, before + 5 * 23, "{}", writer.username);
    }
    for story in &stories {
        assert_eq!(like_count(&app, story).await, 23);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_parallel_likes_by_one_user_earn_five() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let id = app.create_published_story(&alice, "Hit").await;
    let before = app.xp(&alice).await;
    let results = futures_util::future::join_all(
        (0..20).map(|_| app.ok(Some(&bob.token), LIKE, json!({ "id": id }))),
    )
    .await;
    let awarded = results
        .iter()
        .filter(|data| !data["likeStory"]["xpEarned"].is_null())
        .count();
    assert_eq!(awarded, 1);
    assert_eq!(app.xp(&alice).await, before + 5);
    assert_eq!(like_count(&app, &id).await, 1);
}

/// A story's like count is kept by story_likes' triggers (not counted on every like):
/// through parallel likes, repeats and unlikes, a bulk insert and a deletion it stays
/// equal to the likes there are.
#[tokio::test(flavor = "multi_thread")]
async fn the_kept_like_count_equals_the_likes_through_likes_unlikes_and_deletions() {
    use diesel_async::RunQueryDsl;
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let hit = app.create_published_story(&alice, "Hit").await;
    let other = app.create_published_story(&alice, "Other").await;
    let fans = sign_up_many(&app, "fan", 30).await;
    // Every fan likes `hit` twice and `other` once, and the first ten also unlike `hit`,
    // all at once: an unlike may run before or after its fan's likes.
    let likes = fans.iter().flat_map(|fan| {
        [(fan, &hit), (fan, &hit), (fan, &other)]
            .map(|(fan, story)| app.ok(Some(&fan.token), LIKE, json!({ "id": story })))
    });
    let unlikes = fans[..10]
        .iter()
        .map(|fan| app.ok(Some(&fan.token), UNLIKE, json!({ "id": hit })));
    let (liked, _) = futures_util::future::join(
        futures_util::future::join_all(likes),
        futures_util::future::join_all(unlikes),
    )
    .await;
    for data in &liked {
        let count = data["likeStory"]["story"]["likeCount"].as_i64().unwrap();
        assert!(
            (1..=30).contains(&count),
            "a like's answer counts it: {count}"
        );
    }
    assert_eq!(like_count(&app, &other).await, 30);
    let counted = |story: &str| {
        let story: i64 = story.parse().unwrap();
        let app = &app;
        async move {
            #[derive(diesel::QueryableByName)]
            struct Counts {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                likes: i64,
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                kept: i64,
            }
            let row: Counts = diesel::sql_query(
                "SELECT (SELECT count(*) FROM story_likes WHERE story_id = $1) AS likes, \
                        coalesce((SELECT likes FROM story_like_counts WHERE story_id = $1), -1) AS kept",
            )
            .bind::<diesel::sql_types::BigInt, _>(story)
            .get_result(&mut app.sql().await)
            .await
            .unwrap();
            (row.likes, row.kept)
        }
    };
    let (likes, kept) = counted(&hit).await;
    assert!((20..=30).contains(&likes), "{likes} likes of hit");
    assert_eq!(kept, likes);
    assert_eq!(like_count(&app, &hit).await, likes);
    // One statement inserting many likes (as an import would), repeats skipped.
    let hit_id: i64 = hit.parse().unwrap();
    diesel::sql_query(
        "INSERT INTO story_likes (story_id, user_id) SELECT $1, id FROM users ON CONFLICT DO NOTHING",
    )
    .bind::<diesel::sql_types::BigInt, _>(hit_id)
    .execute(&mut app.sql().await)
    .await
    .unwrap();
    assert_eq!(counted(&hit).await, (31, 31), "30 fans and alice");
    assert_eq!(like_count(&app, &hit).await, 31);
    // Unliking twice takes one like off.
    for _ in 0..2 {
        app.ok(Some(&fans[0].token), UNLIKE, json!({ "id": hit }))
            .await;
    }
    assert_eq!(counted(&hit).await, (30, 30));
    // A deleted story's likes and count go together.
    app.ok(
        Some(&alice.token),
        "mutation($id: ID!) { deleteStory(id: $id) { deletedStoryId } }",
        json!({ "id": hit }),
    )
    .await;
    assert_eq!(counted(&hit).await, (0, -1));
    assert_eq!(counted(&other).await, (30, 30));
}

/// An unlike while a like transaction holds the story's count row and then writes the
/// same like again (as a batch of likes does): the unlike waits for the count row before
/// it deletes, so neither waits for the other in a circle (PostgreSQL would abort one
/// as a deadlock), and both succeed.
#[tokio::test(flavor = "multi_thread")]
async fn an_unlike_beside_a_like_transaction_holding_the_count_does_not_deadlock() {
    use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let hit = app.create_published_story(&alice, "Hit").await;
    let fans = sign_up_many(&app, "fan", 2).await;
    app.ok(Some(&fans[0].token), LIKE, json!({ "id": hit }))
        .await;
    let story: i64 = hit.parse().unwrap();
    let id_of = |name: &str| format!("(SELECT id FROM users WHERE username = '{name}')");
    let mut like_transaction = app.sql().await;
    like_transaction
        .batch_execute(&format!(
            "BEGIN; INSERT INTO story_likes (story_id, user_id) VALUES ({story}, {})",
            id_of(&fans[1].username)
        ))
        .await
        .unwrap();
    let unlike = app.ok(Some(&fans[0].token), UNLIKE, json!({ "id": hit }));
    let like_again = async {
        let mut watcher = app.sql().await;
        #[derive(diesel::QueryableByName)]
        struct Waiting {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            waiting: i64,
        }
        // Until the unlike waits for a lock held here (never longer than 30 s).
        let waits = async {
            loop {
                let row: Waiting = diesel::sql_query(
                    "SELECT count(*) AS waiting FROM pg_stat_activity \
                      WHERE datname = current_database() AND wait_event_type = 'Lock'",
                )
                .get_result(&mut watcher)
                .await
                .unwrap();
                if row.waiting > 0 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(30), waits)
            .await
            .expect("the unlike waits for the count row this transaction holds");
        like_transaction
            .batch_execute(&format!(
                "INSERT INTO story_likes (story_id, user_id) VALUES ({story}, {}) \
                 ON CONFLICT DO NOTHING; COMMIT",
                id_of(&fans[0].username)
            ))
            .await
            .expect("the like transaction commits");
    };
    let (unliked, ()) = futures_util::future::join(unlike, like_again).await;
    assert_eq!(unliked["unlikeStory"]["story"]["likeCount"], json!(1));
    assert_eq!(like_count(&app, &hit).await, 1, "fan 1's like alone");
}

async fn like_count(app: &TestApp, story: &str) -> i64 {
    let data = app
        .ok(
            None,
            "query($id: ID!) { story(id: $id) { likeCount } }",
            json!({ "id": story }),
        )
        .await;
    data["story"]["likeCount"].as_i64().expect("a like count")
}

#[tokio::test(flavor = "multi_thread")]
async fn drafts_are_hidden_from_everyone_but_their_author() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let draft = app.create_story(&alice, "Draft").await;
    let published = app.create_published_story(&alice, "Out").await;
    let one = "query($id: ID!) { story(id: $id) { title } }";
    assert_eq!(
        app.ok(Some(&bob.token), one, json!({ "id": draft })).await["story"],
        json!(null)
    );
    assert_eq!(
        app.ok(None, one, json!({ "id": draft })).await["story"],
        json!(null)
    );
    assert_eq!(
        app.ok(Some(&alice.token), one, json!({ "id": draft }))
            .await["story"]["title"],
        "Draft"
    );
    assert_eq!(
        app.error_code(Some(&bob.token), LIKE, json!({ "id": draft }))
            .await,
        "NOT_FOUND"
    );
    let list = "{ stories { nodes { id } } }";
    assert_eq!(
        app.ok(Some(&bob.token), list, json!({})).await["stories"]["nodes"],
        json!([{ "id": published }])
    );
    assert_eq!(
        app.ok(Some(&alice.token), list, json!({})).await["stories"]["nodes"],
        json!([{ "id": published }, { "id": draft }])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_story_keeps_the_xp_it_earned() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let id = app.create_published_story(&alice, "Short-lived").await;
    app.ok(Some(&bob.token), LIKE, json!({ "id": id })).await;
    let before = app.xp(&alice).await;
    assert_eq!(before, 100 + 30 + 50 + 30 + 5);
    let deleted = app
        .ok(
            Some(&alice.token),
            "mutation($id: ID!) { deleteStory(id: $id) { deletedStoryId } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(deleted["deleteStory"]["deletedStoryId"], id);
    assert_eq!(app.xp(&alice).await, before);
    assert_eq!(
        app.ok(
            None,
            "query($id: ID!) { story(id: $id) { id } }",
            json!({ "id": id })
        )
        .await["story"],
        json!(null)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stories_page_newest_first_with_cursors() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            app.create_published_story(&alice, &format!("Story {n}"))
                .await,
        );
    }
    ids.reverse();
    let query = "query($after: String) { stories(first: 2, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }";
    let mut seen = Vec::new();
    let mut after = serde_json::Value::Null;
    let mut pages = 0;
    loop {
        let data = app.ok(None, query, json!({ "after": after })).await;
        let connection = &data["stories"];
        for edge in connection["edges"].as_array().unwrap() {
            seen.push(edge["node"]["id"].as_str().unwrap().to_string());
        }
        pages += 1;
        if connection["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, ids);
    assert_eq!(pages, 3);
    assert_eq!(
        app.error_code(None, "{ stories(first: 101) { nodes { id } } }", json!({}))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.error_code(None, "{ stories(first: 101) { nodes { id } } }", json!({}))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.error_code(
            None,
            "{ stories(after: \"bogus!\") { nodes { id } } }",
            json!({})
        )
        .await,
        "BAD_USER_INPUT"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_author_filter_gives_exactly_that_authors_visible_stories() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    // Interleaved, so that neither a prefix nor a suffix of the newest-first list is
    // one author's.
    let mut alices = Vec::new();
    let mut bobs = Vec::new();
    for n in 0..3 {
        alices.push(app.create_published_story(&alice, &format!("A{n}")).await);
        bobs.push(app.create_published_story(&bob, &format!("B{n}")).await);
    }
    let alices_draft = app.create_story(&alice, "A draft").await;
    alices.reverse();
    bobs.reverse();
    let query = "query($id: ID) { stories(authorId: $id) { nodes { id author { username } } } }";
    let ids = |data: serde_json::Value, author: &str| -> Vec<String> {
        data["stories"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|node| {
                assert_eq!(node["author"]["username"], author, "{node}");
                node["id"].as_str().unwrap().to_string()
            })
            .collect()
    };
    let of_alice = app.ok(None, query, json!({ "id": alice.id })).await;
    assert_eq!(ids(of_alice, "alice"), alices);
    let of_bob = app.ok(None, query, json!({ "id": bob.id })).await;
    assert_eq!(ids(of_bob, "bob"), bobs);
    // Her own draft shows to alice alone.
    let as_alice = app
        .ok(Some(&alice.token), query, json!({ "id": alice.id }))
        .await;
    let mut with_draft = vec![alices_draft];
    with_draft.extend(alices.iter().cloned());
    assert_eq!(ids(as_alice, "alice"), with_draft);
    let as_bob = app
        .ok(Some(&bob.token), query, json!({ "id": alice.id }))
        .await;
    assert_eq!(ids(as_bob, "alice"), alices);
    let nobody = app.ok(None, query, json!({ "id": "99999" })).await;
    assert_eq!(nobody, json!({ "stories": { "nodes": [] } }));
    let unfiltered = app.ok(None, query, json!({ "id": null })).await;
    assert_eq!(unfiltered["stories"]["nodes"].as_array().unwrap().len(), 6);
    let malformed = app.graphql(None, query, json!({ "id": "x" })).await;
    assert_eq!(
        malformed["errors"][0]["message"],
        "`x` is not a valid user id"
    );
    assert_eq!(
        malformed["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn story_input_limits_are_enforced() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    for (title, content, message) in [
        ("", "x".to_string(), "a story needs a title"),
        ("   ", "x".to_string(), "a story needs a title"),
        (
            &"t".repeat(201)[..],
            "x".to_string(),
            "the title is longer than 200 characters",
        ),
        (
            "ok",
            "c".repeat(100_001),
            "the content is longer than 100000 characters",
        ),
        // Characters, not bytes: 201 two-byte characters are too many.
        (
            &"é".repeat(201)[..],
            "x".to_string(),
            "the title is longer than 200 characters",
        ),
    ] {
        let body = app
            .graphql(
                Some(&alice.token),
                CREATE,
                json!({ "input": { "title": title, "content": content } }),
            )
            .await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert_eq!(body["errors"][0]["message"], message);
        assert_eq!(body["data"], json!(null));
    }
    assert_eq!(app.xp(&alice).await, 0, "nothing was created or earned");
    // The limits themselves are allowed.
    let longest = app
        .ok(
            Some(&alice.token),
            CREATE,
            json!({ "input": { "title": "é".repeat(200), "content": "c".repeat(100_000) } }),
        )
        .await;
    assert_eq!(longest["createStory"]["story"]["title"], "é".repeat(200));
    assert_eq!(app.xp(&alice).await, 130);
}

/// PostgreSQL caches the plans of the statements inside like_story (and award_xp) per
/// connection. Plans made while the tables were nearly empty must not go on scanning
/// whole tables once they have grown (a fresh database under load).
#[tokio::test(flavor = "multi_thread")]
async fn a_like_scans_no_whole_table_after_its_plans_were_cached_on_empty_tables() {
    use diesel::sql_types::{BigInt, Text};
    use diesel_async::RunQueryDsl;

    #[derive(diesel::QueryableByName)]
    struct Scans {
        #[diesel(sql_type = BigInt)]
        scans: i64,
    }

    let app = TestApp::spawn().await;
    let mut connection = app.sql().await;
    let run = async |connection: &mut diesel_async::AsyncPgConnection, sql: &str| {
        diesel::sql_query(sql).execute(connection).await.unwrap();
    };
    run(
        &mut connection,
        "INSERT INTO users (username, email, password_hash) SELECT 'user' || g, 'user' || g || '@example.com', 'x' FROM generate_series(1, 300) g",
    )
    .await;
    run(
        &mut connection,
        "INSERT INTO stories (author_id, title, content, published) SELECT id, 'Story', '', TRUE FROM users ORDER BY id LIMIT 100",
    )
    .await;
    // Statistics that say the likes and ledger are empty (autovacuum would find the same).
    run(&mut connection, "ANALYZE").await;
    let candidates =
        storyxp::xp::rules::achievement_candidates(storyxp::xp::XpAction::StoryLiked).to_string();
    let streak =
        storyxp::xp::rules::achievement_candidates(storyxp::xp::XpAction::StreakBonus).to_string();
    let like = async |connection: &mut diesel_async::AsyncPgConnection, nth: i64| {
        diesel::sql_query(
            "SELECT l.id FROM like_story((SELECT min(id) FROM stories) + $1 % 100, \
             (SELECT max(id) FROM users) - $1 / 100, 'subject ' || $1, $2::jsonb, \
             'LIKE_STORIES', $3::jsonb) l",
        )
        .bind::<BigInt, _>(nth)
        .bind::<Text, _>(&candidates)
        .bind::<Text, _>(&streak)
        .execute(connection)
        .await
        .unwrap();
    };
    // Ten likes on this connection while likes and ledger are empty: their plans are cached.
    for nth in 0..10 {
        like(&mut connection, nth).await;
    }
    // The tables grow by 20,000 likes and 20,000 ledger entries (no ANALYZE in between).
    run(
        &mut connection,
        "INSERT INTO story_likes (story_id, user_id) SELECT s.id, u.id FROM stories s, users u \
         WHERE u.id < (SELECT max(id) FROM users) - 99 ON CONFLICT DO NOTHING",
    )
    .await;
    run(
        &mut connection,
        "INSERT INTO xp_ledger (recipient_id, action, subject, amount) \
         SELECT (SELECT min(id) FROM users) + g % 300, 'STORY_READ', 'bulk ' || g, 1 \
         FROM generate_series(1, 20000) g",
    )
    .await;
    run(&mut connection, "BEGIN").await;
    like(&mut connection, 10).await;
    let scans: Scans = diesel::sql_query(
        "SELECT coalesce(sum(seq_scan), 0)::BIGINT AS scans FROM pg_stat_xact_user_tables",
    )
    .get_result(&mut connection)
    .await
    .unwrap();
    run(&mut connection, "ROLLBACK").await;
    assert_eq!(scans.scans, 0, "a like scanned a whole table");
}

/// A batch bigger than one transaction's share is written in several; every like still
/// gets its own outcome, for its own story.
#[tokio::test(flavor = "multi_thread")]
async fn a_big_batch_of_likes_gives_each_like_its_own_outcome() {
    use storyxp::domain::stories::{LikeRequest, MAX_LIKES_PER_TRANSACTION, like_many};
    let app = TestApp::spawn().await;
    let writer = app.sign_up("writer").await;
    let likers = sign_up_many(&app, "liker", 10).await;
    let mut stories = Vec::new();
    for n in 0..15 {
        let id = app.create_published_story(&writer, &format!("S{n}")).await;
        stories.push(id.parse::<i64>().unwrap());
    }
    let likes: Vec<LikeRequest> = likers
        .iter()
        .flat_map(|liker| {
            let liker: i64 = liker.id.parse().unwrap();
            stories
                .iter()
                .map(move |story| LikeRequest::new(*story, liker, None))
        })
        .collect();
    assert!(likes.len() > 2 * MAX_LIKES_PER_TRANSACTION);
    let before = app.xp(&writer).await;
    let mut connection = app.sql().await;
    let outcomes = like_many(&mut connection, &likes, storyxp::clock::Clock::real()).await;
    assert_eq!(outcomes.len(), likes.len());
    let mut gains = Vec::new();
    let mut unlocked = std::collections::HashSet::new();
    for like in &likes {
        let outcome = outcomes[like].as_ref().expect("a like of a visible story");
        assert_eq!(outcome.story.id, like.story);
        let award = outcome.award.as_ref().expect("a first like earns");
        assert_eq!(award.recipient.to_string(), writer.id);
        // 5 for the like, 30 per achievement it unlocked.
        assert_eq!(
            award.xp_gained,
            5 + 30 * i32::try_from(award.achievements.len()).unwrap()
        );
        unlocked.extend(award.achievements.iter().copied());
        gains.push(award.xp_gained);
    }
    // 150 likes of 5, one of them (the 25th) unlocking CROWD_PLEASER (+30); the writer's
    // rise (capped at 10 paid stories a day, 1,590 XP before) crosses level 5 too.
    assert_eq!(gains.len(), 150);
    use storyxp::xp::AchievementKey;
    assert_eq!(
        unlocked,
        [AchievementKey::CrowdPleaser, AchievementKey::RisingStar]
            .into_iter()
            .collect()
    );
    assert_eq!(app.xp(&writer).await, before + 150 * 5 + 2 * 30);
    // Liking again: the same outcomes, none earning.
    let again: Vec<LikeRequest> = likes
        .iter()
        .map(|like| LikeRequest::new(like.story, like.liker, None))
        .collect();
    let outcomes: Vec<_> = like_many(&mut connection, &again, storyxp::clock::Clock::real())
        .await
        .into_values()
        .map(Result::unwrap)
        .collect();
    assert_eq!(outcomes.len(), again.len());
    assert!(outcomes.iter().all(|outcome| outcome.award.is_none()));
    assert!(
        outcomes
            .iter()
            .all(|outcome| outcome.like_count == Some(10))
    );
}

/// A like that fails fails alone: the other likes of its batch (here the operations of
/// one batched request, which the server likes in one transaction) still land and earn.
#[tokio::test(flavor = "multi_thread")]
async fn a_like_that_fails_fails_alone_in_its_batch() {
    use diesel::sql_types::BigInt;
    use diesel_async::RunQueryDsl;
    let app = TestApp::spawn().await;
    let full = app.sign_up("full").await;
    let writer = app.sign_up("writer").await;
    let liker = app.sign_up("liker").await;
    let full_story = app.create_published_story(&full, "Full").await;
    let mut stories = Vec::new();
    for n in 0..4 {
        stories.push(app.create_published_story(&writer, &format!("S{n}")).await);
    }
    // Bring `full` to 2 XP short of the most an INTEGER holds: a like (5 XP) of its
    // story cannot be written.
    let mut connection = app.sql().await;
    diesel::sql_query(
        "INSERT INTO xp_ledger (recipient_id, action, amount, reason) \
         SELECT id, 'CUSTOM', 2147483645 - experience_points, 'test' FROM users WHERE id = $1",
    )
    .bind::<BigInt, _>(full.id.parse::<i64>().unwrap())
    .execute(&mut connection)
    .await
    .unwrap();
    let (full_before, writer_before) = (app.xp(&full).await, app.xp(&writer).await);
    assert_eq!(full_before, 2_147_483_645);

    let mut ids = stories.clone();
    ids.insert(2, full_story.clone());
    let batch: Vec<_> = ids
        .iter()
        .map(|id| json!({ "query": LIKE, "variables": { "id": id } }))
        .collect();
    let answers: Vec<serde_json::Value> = reqwest::Client::new()
        .post(format!("{}/graphql", app.base_url))
        .bearer_auth(&liker.token)
        .json(&batch)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answers.len(), 5);
    let failed = &answers[2];
    assert!(failed["data"].is_null(), "{failed}");
    assert_eq!(
        failed["errors"][0]["extensions"]["code"], "INTERNAL_SERVER_ERROR",
        "{failed}"
    );
    let mut gained = 0;
    for (n, answer) in answers.iter().enumerate().filter(|(n, _)| *n != 2) {
        assert!(answer.get("errors").is_none(), "like {n}: {answer}");
        let earned = &answer["data"]["likeStory"]["xpEarned"];
        assert_eq!(earned["action"], "STORY_LIKED", "like {n}: {answer}");
        assert_eq!(earned["xpGained"], 5, "like {n}: {answer}");
        assert_eq!(earned["achievements"], json!([]), "like {n}: {answer}");
        assert_eq!(answer["data"]["likeStory"]["story"]["likeCount"], 1);
        gained += earned["xpGained"].as_i64().unwrap();
    }
    assert_eq!(gained, 4 * 5);
    // Nothing of the failed like was written; the others were, with their awards.
    assert_eq!(app.xp(&full).await, full_before);
    assert_eq!(like_count(&app, &full_story).await, 0);
    assert_eq!(app.xp(&writer).await, writer_before + gained);
    for story in &stories {
        assert_eq!(like_count(&app, story).await, 1);
    }
}
