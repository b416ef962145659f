//! The XP shop: a balance of its own (experiencePoints and level never drop), the
//! catalog's prices and levels, refusals with reasons, equipping, and purchases that
//! stay exact under concurrency.

use serde_json::{Value, json};

use crate::common::{TestApp, TestUser, WsEvent};

const AWARD: &str = "mutation($input: AwardXpInput!) { awardXp(input: $input) { totalXp } }";
const BUY: &str = "mutation($key: String!) { buyItem(key: $key) { item { key price } user { xpBalance experiencePoints level } } }";
const EQUIP: &str =
    "mutation($key: String!) { equipItem(key: $key) { user { frame { key } title } } }";
const UNEQUIP: &str =
    "mutation($key: String!) { unequipItem(key: $key) { user { frame { key } title } } }";
const WALLET: &str = "{ me { experiencePoints level xpBalance streak { freezes } inventory { item { key } equipped } purchases(first: 50) { edges { node { item { key } price } } } } }";

/// A user with `xp` XP, from an admin's award (level achievements may add their bonus).
async fn user_with_xp(app: &TestApp, admin: &TestUser, name: &str, xp: i32) -> TestUser {
    let user = app.sign_up(name).await;
    app.ok(
        Some(&admin.token),
        AWARD,
        json!({ "input": { "userId": user.id, "amount": xp, "notify": false } }),
    )
    .await;
    user
}

async fn wallet(app: &TestApp, user: &TestUser) -> Value {
    app.ok(Some(&user.token), WALLET, json!({})).await["me"].clone()
}

/// The reason of a refused buy, after checking it is a BAD_USER_INPUT with a message.
async fn refusal(app: &TestApp, user: &TestUser, key: &str) -> String {
    let body = app
        .graphql(Some(&user.token), BUY, json!({ "key": key }))
        .await;
    assert_eq!(body["data"], json!(null), "{body}");
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    assert!(error["message"].as_str().unwrap().len() > 10, "{body}");
    error["extensions"]["reason"]
        .as_str()
        .unwrap_or("none")
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_catalog_is_the_contracts() {
    let app = TestApp::spawn().await;
    let items = app
        .ok(None, "{ shopItems { key kind price minLevel } }", json!({}))
        .await;
    let rows: Vec<String> = items["shopItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            format!(
                "{} {} {} {}",
                item["key"].as_str().unwrap(),
                item["kind"].as_str().unwrap(),
                item["price"],
                item["minLevel"]
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            "STREAK_FREEZE CONSUMABLE 200 2",
            "FRAME_BRONZE FRAME 250 2",
            "FRAME_SILVER FRAME 750 5",
            "FRAME_GOLD FRAME 2000 10",
            "TITLE_WORDSMITH TITLE 300 3",
            "TITLE_LOREMASTER TITLE 1500 8",
            "TITLE_LEGEND TITLE 5000 15",
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn buying_spends_the_balance_and_never_xp_and_equipped_items_are_public() {
    let app = TestApp::spawn().await;
    let admin = app.sign_up_admin("root").await;
    let alice = user_with_xp(&app, &admin, "alice", 1000).await;
    let bob = app.sign_up("bob").await;
    let bought = app
        .ok(Some(&alice.token), BUY, json!({ "key": "FRAME_BRONZE" }))
        .await;
    assert_eq!(
        bought["buyItem"],
        json!({ "item": { "key": "FRAME_BRONZE", "price": 250 },
                "user": { "xpBalance": 750, "experiencePoints": 1000, "level": 3 } })
    );
    app.ok(Some(&alice.token), BUY, json!({ "key": "TITLE_WORDSMITH" }))
        .await;
    app.ok(Some(&alice.token), BUY, json!({ "key": "STREAK_FREEZE" }))
        .await;
    let mine = wallet(&app, &alice).await;
    assert_eq!(mine["xpBalance"], 250);
    assert_eq!(
        (mine["experiencePoints"].clone(), mine["level"].clone()),
        (json!(1000), json!(3))
    );
    assert_eq!(
        mine["streak"]["freezes"], 1,
        "a streak freeze feeds the streak"
    );
    assert_eq!(
        mine["inventory"],
        json!([{ "item": { "key": "FRAME_BRONZE" }, "equipped": false },
               { "item": { "key": "TITLE_WORDSMITH" }, "equipped": false }])
    );
    assert_eq!(
        mine["purchases"]["edges"],
        json!([{ "node": { "item": { "key": "STREAK_FREEZE" }, "price": 200 } },
               { "node": { "item": { "key": "TITLE_WORDSMITH" }, "price": 300 } },
               { "node": { "item": { "key": "FRAME_BRONZE" }, "price": 250 } }])
    );
    let equipped = app
        .ok(Some(&alice.token), EQUIP, json!({ "key": "FRAME_BRONZE" }))
        .await;
    assert_eq!(
        equipped["equipItem"]["user"],
        json!({ "frame": { "key": "FRAME_BRONZE" }, "title": null })
    );
    app.ok(
        Some(&alice.token),
        EQUIP,
        json!({ "key": "TITLE_WORDSMITH" }),
    )
    .await;
    // Public: bob sees alice's frame and title, not her balance, inventory or purchases.
    let seen = app
        .ok(
            Some(&bob.token),
            "query($id: ID!) { user(id: $id) { frame { key } title xpBalance inventory { equipped } purchases { edges { node { id } } } } }",
            json!({ "id": alice.id }),
        )
        .await;
    assert_eq!(
        seen["user"],
        json!({ "frame": { "key": "FRAME_BRONZE" }, "title": "Wordsmith", "xpBalance": null, "inventory": null, "purchases": null })
    );
    let unequipped = app
        .ok(
            Some(&alice.token),
            UNEQUIP,
            json!({ "key": "TITLE_WORDSMITH" }),
        )
        .await;
    assert_eq!(
        unequipped["unequipItem"]["user"],
        json!({ "frame": { "key": "FRAME_BRONZE" }, "title": null })
    );
    assert_eq!(
        wallet(&app, &alice).await["inventory"],
        json!([{ "item": { "key": "FRAME_BRONZE" }, "equipped": true },
               { "item": { "key": "TITLE_WORDSMITH" }, "equipped": false }])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_have_their_reasons_and_change_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.sign_up_admin("root").await;
    let newbie = user_with_xp(&app, &admin, "newbie", 400).await; // level 1
    assert_eq!(
        refusal(&app, &newbie, "FRAME_BRONZE").await,
        "LEVEL_TOO_LOW"
    );
    let carol = user_with_xp(&app, &admin, "carol", 700).await; // level 2
    app.ok(Some(&carol.token), BUY, json!({ "key": "FRAME_BRONZE" }))
        .await;
    app.ok(Some(&carol.token), BUY, json!({ "key": "STREAK_FREEZE" }))
        .await;
    // 250 left: a second freeze costs 200, a second bronze frame is already hers.
    assert_eq!(refusal(&app, &carol, "FRAME_BRONZE").await, "ALREADY_OWNED");
    assert_eq!(
        refusal(&app, &carol, "TITLE_WORDSMITH").await,
        "LEVEL_TOO_LOW"
    );
    app.ok(Some(&carol.token), BUY, json!({ "key": "STREAK_FREEZE" }))
        .await;
    assert_eq!(
        refusal(&app, &carol, "STREAK_FREEZE").await,
        "LIMIT_REACHED"
    );
    let before = wallet(&app, &carol).await;
    assert_eq!(before["xpBalance"], 50);
    // 500 - 250 - 200 = 50: too little for a second freeze.
    let dave = user_with_xp(&app, &admin, "dave", 500).await;
    app.ok(Some(&dave.token), BUY, json!({ "key": "FRAME_BRONZE" }))
        .await;
    app.ok(Some(&dave.token), BUY, json!({ "key": "STREAK_FREEZE" }))
        .await;
    assert_eq!(
        refusal(&app, &dave, "STREAK_FREEZE").await,
        "INSUFFICIENT_XP"
    );
    assert_eq!(wallet(&app, &dave).await["xpBalance"], 50);
    assert_eq!(refusal(&app, &carol, "FRAME_PLATINUM").await, "none");
    for (query, key) in [
        (EQUIP, "FRAME_SILVER"),
        (EQUIP, "STREAK_FREEZE"),
        (UNEQUIP, "TITLE_LEGEND"),
        (EQUIP, "NOPE"),
    ] {
        let body = app
            .graphql(Some(&carol.token), query, json!({ "key": key }))
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{key}: {body}"
        );
    }
    assert_eq!(
        app.error_code(None, BUY, json!({ "key": "FRAME_BRONZE" }))
            .await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        wallet(&app, &carol).await,
        before,
        "nothing written by a refusal"
    );
}

/// 20 parallel purchases that together cost more than the balance: the balance ends at
/// exactly the start minus what succeeded, never below 0; each frame or title is bought
/// at most once and at most 2 freezes.
#[tokio::test(flavor = "multi_thread")]
async fn parallel_purchases_never_overdraw() {
    let app = TestApp::spawn().await;
    let admin = app.sign_up_admin("root").await;
    let rich = user_with_xp(&app, &admin, "rich", 5000).await;
    let start = wallet(&app, &rich).await["xpBalance"].as_i64().unwrap();
    let keys = [
        "FRAME_BRONZE",
        "FRAME_SILVER",
        "FRAME_GOLD",
        "TITLE_WORDSMITH",
        "TITLE_LOREMASTER",
        "STREAK_FREEZE",
    ];
    let buys = (0..20).map(|n| {
        let key = keys[n % keys.len()];
        let app = &app;
        let token = rich.token.clone();
        async move {
            (
                key,
                app.graphql(Some(&token), BUY, json!({ "key": key })).await,
            )
        }
    });
    let answers = futures_util::future::join_all(buys).await;
    let price = |key: &str| match key {
        "FRAME_BRONZE" => 250,
        "FRAME_SILVER" => 750,
        "FRAME_GOLD" => 2000,
        "TITLE_WORDSMITH" => 300,
        "TITLE_LOREMASTER" => 1500,
        _ => 200,
    };
    let mut spent = 0;
    let mut bought: Vec<&str> = Vec::new();
    for (key, answer) in &answers {
        if answer.get("errors").is_none() {
            spent += price(key);
            bought.push(key);
        } else {
            let reason = answer["errors"][0]["extensions"]["reason"]
                .as_str()
                .unwrap();
            assert!(
                ["INSUFFICIENT_XP", "ALREADY_OWNED", "LIMIT_REACHED"].contains(&reason),
                "{answer}"
            );
        }
    }
    assert!(spent > 0 && start - spent >= 0);
    let end = wallet(&app, &rich).await;
    assert_eq!(end["xpBalance"].as_i64().unwrap(), start - spent);
    assert_eq!(
        end["purchases"]["edges"].as_array().unwrap().len(),
        bought.len()
    );
    for key in keys {
        let times = bought.iter().filter(|bought| **bought == key).count();
        assert!(
            times <= if key == "STREAK_FREEZE" { 2 } else { 1 },
            "{key} bought {times} times"
        );
    }
    // The last affordable item: all six cost 5,200 together, more than the 5,000.
    assert!(
        answers
            .iter()
            .any(|(_, answer)| answer["errors"][0]["extensions"]["reason"] == "INSUFFICIENT_XP")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_parallel_buys_of_one_frame_succeed_once() {
    let app = TestApp::spawn().await;
    let admin = app.sign_up_admin("root").await;
    let alice = user_with_xp(&app, &admin, "alice", 3000).await;
    let buys =
        (0..10).map(|_| app.graphql(Some(&alice.token), BUY, json!({ "key": "FRAME_SILVER" })));
    let answers = futures_util::future::join_all(buys).await;
    let ok = answers
        .iter()
        .filter(|answer| answer.get("errors").is_none())
        .count();
    assert_eq!(ok, 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .filter(|answer| answer.get("errors").is_some())
            .all(|answer| answer["errors"][0]["extensions"]["reason"] == "ALREADY_OWNED")
    );
    let end = wallet(&app, &alice).await;
    assert_eq!(
        end["xpBalance"].as_i64().unwrap(),
        end["experiencePoints"].as_i64().unwrap() - 750
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_level_up_names_the_items_it_unlocked() {
    let app = TestApp::spawn().await;
    let admin = app.sign_up_admin("root").await;
    let alice = app.sign_up("alice").await;
    let open = *app.live.subscriptions().borrow();
    let mut client = app.websocket("graphql-transport-ws").await;
    match client.init(Some(&alice.token)).await {
        WsEvent::Json(ack) => assert_eq!(ack["type"], "connection_ack"),
        other => panic!("{other:?}"),
    }
    client
        .send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { levelUps { level previousLevel unlockedItems { key minLevel } } }" } }))
        .await;
    app.wait_for_subscriptions(open + 1).await;
    // 0 -> 2100 XP: level 1 -> 5.
    app.ok(
        Some(&admin.token),
        AWARD,
        json!({ "input": { "userId": alice.id, "amount": 2100 } }),
    )
    .await;
    let event = client.next_json().await;
    assert_eq!(
        event["payload"]["data"]["levelUps"],
        json!({ "level": 5, "previousLevel": 1, "unlockedItems": [
            { "key": "STREAK_FREEZE", "minLevel": 2 }, { "key": "FRAME_BRONZE", "minLevel": 2 },
            { "key": "FRAME_SILVER", "minLevel": 5 }, { "key": "TITLE_WORDSMITH", "minLevel": 3 }] })
    );
}

/// buyItem over both WebSocket subprotocols and in an HTTP batch: the same rules, the
/// same refusal reasons.
#[tokio::test(flavor = "multi_thread")]
async fn purchases_work_alike_over_websockets_and_http_batches() {
    let app = TestApp::spawn().await;
    let admin = app.sign_up_admin("root").await;
    let alice = user_with_xp(&app, &admin, "alice", 3000).await;
    for (protocol, start, key) in [
        ("graphql-transport-ws", "subscribe", "FRAME_BRONZE"),
        ("graphql-ws", "start", "FRAME_SILVER"),
    ] {
        let mut client = app.websocket(protocol).await;
        match client.init(Some(&alice.token)).await {
            WsEvent::Json(ack) => assert_eq!(ack["type"], "connection_ack"),
            other => panic!("{other:?}"),
        }
        for (id, expect_reason) in [("1", None), ("2", Some("ALREADY_OWNED"))] {
            client
                .send(json!({ "id": id, "type": start, "payload": { "query": BUY, "variables": { "key": key } } }))
                .await;
            let answer = client.next_json().await;
            match expect_reason {
                None => assert_eq!(
                    answer["payload"]["data"]["buyItem"]["item"]["key"], key,
                    "{protocol}: {answer}"
                ),
                Some(reason) => assert_eq!(
                    answer["payload"]["errors"][0]["extensions"]["reason"], reason,
                    "{protocol}: {answer}"
                ),
            }
            let done = client.next_json().await;
            assert!(done["type"] == "complete", "{protocol}: {done}");
        }
    }
    let batch = json!([
        { "query": BUY, "variables": { "key": "TITLE_WORDSMITH" } },
        { "query": BUY, "variables": { "key": "TITLE_WORDSMITH" } },
    ]);
    let answers: Value = reqwest::Client::new()
        .post(format!("{}/graphql", app.base_url))
        .bearer_auth(&alice.token)
        .json(&batch)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // A batch's operations run side by side, so either of the two may be the one
    // that buys: one buys, the other is refused, whichever order they landed in.
    let mut outcomes: Vec<String> = answers
        .as_array()
        .unwrap()
        .iter()
        .map(
            |answer| match answer["data"]["buyItem"]["item"]["key"].as_str() {
                Some(key) => format!("bought {key}"),
                None => format!("refused {}", answer["errors"][0]["extensions"]["reason"]),
            },
        )
        .collect();
    outcomes.sort();
    assert_eq!(
        outcomes,
        ["bought TITLE_WORDSMITH", "refused \"ALREADY_OWNED\""],
        "{answers}"
    );
    let end = wallet(&app, &alice).await;
    assert_eq!(
        end["xpBalance"].as_i64().unwrap(),
        end["experiencePoints"].as_i64().unwrap() - 250 - 750 - 300
    );
}
