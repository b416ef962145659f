//! The XP shop: buying with the balance (experiencePoints - everything spent), the
//! inventory, equipping. The catalog is `xp::shop`; the purchase itself is the SQL
//! function `buy_item` (migrations/), under the buyer's row lock.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::AppError;
use crate::xp::shop::{ShopItem, ShopItemKey, ShopItemKind};

/// The item `code` names; an unknown one is BAD_USER_INPUT.
pub fn item(code: &str) -> Result<&'static ShopItem, AppError> {
    ShopItemKey::from_code(code)
        .map(ShopItemKey::item)
        .ok_or_else(|| {
            AppError::BadUserInput(format!(
                "there is no shop item `{}`; shopItems lists them",
                code.chars().take(64).collect::<String>()
            ))
        })
}

/// What the shop knows of a user: balance and equipped items.
#[derive(Debug, Clone, QueryableByName)]
pub struct ShopProfile {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Integer)]
    pub balance: i32,
    #[diesel(sql_type = Nullable<Text>)]
    frame: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    title: Option<String>,
}

impl ShopProfile {
    pub fn frame(&self) -> Option<&'static ShopItem> {
        self.frame
            .as_deref()
            .and_then(ShopItemKey::from_code)
            .map(ShopItemKey::item)
    }

    pub fn title(&self) -> Option<&'static ShopItem> {
        self.title
            .as_deref()
            .and_then(ShopItemKey::from_code)
            .map(ShopItemKey::item)
    }
}

/// The shop profiles of `users` (one query for all; the API reads them through a
/// loader), with each user's id.
pub async fn profiles(
    connection: &mut AsyncPgConnection,
    users: &[i64],
) -> Result<Vec<(i64, ShopProfile)>, AppError> {
    let rows: Vec<ShopProfile> = diesel::sql_query(
        "SELECT id, experience_points - xp_spent AS balance, frame, title FROM users WHERE id = ANY ($1)",
    )
    .bind::<diesel::sql_types::Array<BigInt>, _>(users)
    .load(connection)
    .await?;
    Ok(rows.into_iter().map(|row| (row.id, row)).collect())
}

#[derive(QueryableByName)]
struct Bought {
    #[diesel(sql_type = Text)]
    outcome: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    purchase_id: Option<i64>,
}

/// Buys `code` for `user` with their balance. A refusal is BAD_USER_INPUT with a reason:
/// LEVEL_TOO_LOW, LIMIT_REACHED (streak freezes held), ALREADY_OWNED, INSUFFICIENT_XP;
/// nothing is written then. Returns the purchase's id.
pub async fn buy(
    connection: &mut AsyncPgConnection,
    user: i64,
    code: &str,
) -> Result<(&'static ShopItem, i64), AppError> {
    let item = item(code)?;
    let bought: Option<Bought> =
        diesel::sql_query("SELECT outcome, purchase_id FROM buy_item($1, $2, $3, $4, $5, $6)")
            .bind::<BigInt, _>(user)
            .bind::<Text, _>(item.code)
            .bind::<Integer, _>(item.price)
            .bind::<Integer, _>(item.min_level)
            .bind::<Bool, _>(item.key == ShopItemKey::StreakFreeze)
            .bind::<Bool, _>(item.kind != ShopItemKind::Consumable)
            .get_result(connection)
            .await
            .optional()?;
    let bought = bought.ok_or_else(|| AppError::not_found("user"))?;
    let refused = |reason: &'static str, message: String| AppError::Refused { reason, message };
    match (bought.outcome.as_str(), bought.purchase_id) {
        ("BOUGHT", Some(id)) => Ok((item, id)),
        ("LEVEL_TOO_LOW", _) => Err(refused(
            "LEVEL_TOO_LOW",
            format!("{} needs level {}", item.name, item.min_level),
        )),
        ("LIMIT_REACHED", _) => Err(refused(
            "LIMIT_REACHED",
            format!("you already hold as many {}s as you may", item.name),
        )),
        ("ALREADY_OWNED", _) => Err(refused(
            "ALREADY_OWNED",
            format!("you already own {}", item.name),
        )),
        ("INSUFFICIENT_XP", _) => Err(refused(
            "INSUFFICIENT_XP",
            format!(
                "{} costs {} XP, more than your balance",
                item.name, item.price
            ),
        )),
        (other, _) => Err(AppError::Internal(format!("buy_item answered `{other}`"))),
    }
}

/// An item a user owns.
#[derive(Debug, Clone)]
pub struct Owned {
    pub item: &'static ShopItem,
    pub acquired_at: DateTime<Utc>,
    pub equipped: bool,
}

#[derive(QueryableByName)]
struct OwnedRow {
    #[diesel(sql_type = Text)]
    item: String,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    acquired_at: DateTime<Utc>,
    #[diesel(sql_type = Bool)]
    equipped: bool,
}

/// The frames and titles `user` owns, oldest first.
pub async fn inventory(
    connection: &mut AsyncPgConnection,
    user: i64,
) -> Result<Vec<Owned>, AppError> {
    let rows: Vec<OwnedRow> = diesel::sql_query(
        "SELECT i.item, i.acquired_at, (i.item = u.frame OR i.item = u.title) IS TRUE AS equipped \
           FROM user_items i JOIN users u ON u.id = i.user_id \
          WHERE i.user_id = $1 ORDER BY i.acquired_at, i.item",
    )
    .bind::<BigInt, _>(user)
    .load(connection)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            Some(Owned {
                item: ShopItemKey::from_code(&row.item)?.item(),
                acquired_at: row.acquired_at,
                equipped: row.equipped,
            })
        })
        .collect())
}

/// One purchase.
#[derive(Debug, Clone, QueryableByName)]
pub struct Purchase {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    item: String,
    #[diesel(sql_type = Integer)]
    pub price: i32,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub created_at: DateTime<Utc>,
}

impl Purchase {
    pub fn item(&self) -> Option<&'static ShopItem> {
        ShopItemKey::from_code(&self.item).map(ShopItemKey::item)
    }
}

/// A page of `user`'s purchases, newest first, after the purchase `after` (its id).
pub async fn purchases(
    connection: &mut AsyncPgConnection,
    user: i64,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<Purchase>, AppError> {
    Ok(diesel::sql_query(
        "SELECT id, item, price, created_at FROM purchases \
          WHERE user_id = $1 AND ($2::BIGINT IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
    )
    .bind::<BigInt, _>(user)
    .bind::<Nullable<BigInt>, _>(after)
    .bind::<BigInt, _>(limit)
    .load(connection)
    .await?)
}

/// The users column an item is equipped in; a consumable is never equipped.
fn slot(item: &ShopItem) -> Result<&'static str, AppError> {
    match item.kind {
        ShopItemKind::Frame => Ok("frame"),
        ShopItemKind::Title => Ok("title"),
        ShopItemKind::Consumable => Err(AppError::BadUserInput(format!(
            "{} is used up when bought; only frames and titles are equipped",
            item.name
        ))),
    }
}

/// Equips `code` (replacing the frame or title equipped before). An item not owned is
/// BAD_USER_INPUT.
pub async fn equip(
    connection: &mut AsyncPgConnection,
    user: i64,
    code: &str,
) -> Result<(), AppError> {
    let item = item(code)?;
    let slot = slot(item)?;
    let changed = diesel::sql_query(format!(
        "UPDATE users SET {slot} = $2 WHERE id = $1 \
           AND EXISTS (SELECT 1 FROM user_items i WHERE i.user_id = $1 AND i.item = $2)"
    ))
    .bind::<BigInt, _>(user)
    .bind::<Text, _>(item.code)
    .execute(connection)
    .await?;
    if changed == 0 {
        return Err(AppError::BadUserInput(format!(
            "you do not own {}; buy it first",
            item.name
        )));
    }
    Ok(())
}

/// Unequips `code`; it stays owned. An item not owned is BAD_USER_INPUT; one owned but
/// not equipped is left as it is.
pub async fn unequip(
    connection: &mut AsyncPgConnection,
    user: i64,
    code: &str,
) -> Result<(), AppError> {
    let item = item(code)?;
    let slot = slot(item)?;
    let owned: Option<i32> = diesel::sql_query(format!(
        "WITH owned AS (SELECT 1 FROM user_items i WHERE i.user_id = $1 AND i.item = $2), \
              cleared AS (UPDATE users SET {slot} = NULL WHERE id = $1 AND {slot} = $2 \
                           AND EXISTS (SELECT 1 FROM owned)) \
         SELECT count(*)::INTEGER AS n FROM owned"
    ))
    .bind::<BigInt, _>(user)
    .bind::<Text, _>(item.code)
    .get_result::<Count>(connection)
    .await
    .optional()?
    .map(|count| count.n);
    if owned.unwrap_or(0) == 0 {
        return Err(AppError::BadUserInput(format!(
            "you do not own {}",
            item.name
        )));
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Integer)]
    n: i32,
}
