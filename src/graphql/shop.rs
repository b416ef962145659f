//! The XP shop in the API: the catalog, buying, equipping.

use async_graphql::{Context, Object};
use chrono::{DateTime, Utc};

use super::context::{caller, connection};
use super::user::{User, load_user};
use crate::domain::shop::{self, Owned, Purchase as PurchaseRecord};
use crate::error::AppError;
use crate::xp::shop::{ShopItemKind, items};

/// An item of the catalog.
pub struct ShopItem(pub &'static crate::xp::shop::ShopItem);

/// Something to spend XP on: bought with xpBalance, never with experiencePoints, so
/// buying never lowers a level.
#[Object]
impl ShopItem {
    /// The item's key, such as FRAME_BRONZE: what buyItem, equipItem and unequipItem take.
    async fn key(&self) -> &'static str {
        self.0.code
    }
    /// Its name, ready to show ("Bronze Frame"; a title's name is the title itself).
    async fn name(&self) -> &'static str {
        self.0.name
    }
    /// What it does.
    async fn description(&self) -> &'static str {
        self.0.description
    }
    /// CONSUMABLE (used up when bought), FRAME or TITLE (owned once, one of each
    /// equipped at a time).
    async fn kind(&self) -> ShopItemKind {
        self.0.kind
    }
    /// What it costs, in XP of the balance.
    async fn price(&self) -> i32 {
        self.0.price
    }
    /// The level a buyer needs (below it: LEVEL_TOO_LOW).
    async fn min_level(&self) -> i32 {
        self.0.min_level
    }
}

/// A frame or title the user owns.
pub struct OwnedItem(pub Owned);

/// A frame or title in the user's inventory.
#[Object]
impl OwnedItem {
    /// The item.
    async fn item(&self) -> ShopItem {
        ShopItem(self.0.item)
    }
    /// When it was bought.
    async fn acquired_at(&self) -> DateTime<Utc> {
        self.0.acquired_at
    }
    /// Whether it is the user's equipped frame or title.
    async fn equipped(&self) -> bool {
        self.0.equipped
    }
}

/// One purchase.
pub struct Purchase(pub PurchaseRecord);

/// An item bought, at the price it had then.
#[Object]
impl Purchase {
    /// The purchase's stable id.
    async fn id(&self) -> async_graphql::ID {
        async_graphql::ID(self.0.id.to_string())
    }
    /// What was bought.
    async fn item(&self) -> Result<ShopItem, AppError> {
        self.0
            .item()
            .map(ShopItem)
            .ok_or_else(|| AppError::Internal(format!("purchase {} has no known item", self.0.id)))
    }
    /// What it cost.
    async fn price(&self) -> i32 {
        self.0.price
    }
    /// When.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// The result of buyItem.
pub struct BuyItemPayload {
    item: &'static crate::xp::shop::ShopItem,
    user: i64,
}

/// What was bought, and the buyer afterwards.
#[Object]
impl BuyItemPayload {
    /// The item bought.
    async fn item(&self) -> ShopItem {
        ShopItem(self.item)
    }
    /// The buyer, with the new xpBalance and inventory.
    async fn user(&self, ctx: &Context<'_>) -> Result<User, AppError> {
        load_user(ctx, self.user)
            .await?
            .ok_or_else(|| AppError::not_found("user"))
    }
}

/// The result of equipItem and unequipItem.
pub struct EquipPayload {
    user: i64,
}

/// The user afterwards.
#[Object]
impl EquipPayload {
    /// The user, with the frame and title now equipped.
    async fn user(&self, ctx: &Context<'_>) -> Result<User, AppError> {
        load_user(ctx, self.user)
            .await?
            .ok_or_else(|| AppError::not_found("user"))
    }
}

#[derive(Default)]
pub struct ShopQuery;

#[Object]
impl ShopQuery {
    /// The shop's catalog, cheapest kinds first; public.
    async fn shop_items(&self) -> Vec<ShopItem> {
        items().map(ShopItem).collect()
    }
}

#[derive(Default)]
pub struct ShopMutation;

#[Object]
impl ShopMutation {
    /// Buys an item with the caller's xpBalance (experiencePoints and level never
    /// change). Refused as BAD_USER_INPUT with `extensions.reason`: INSUFFICIENT_XP,
    /// LEVEL_TOO_LOW, ALREADY_OWNED (frames and titles are owned once) or LIMIT_REACHED
    /// (streak freezes held); nothing is spent then. An unknown key: BAD_USER_INPUT.
    /// Concurrent buys never overdraw the balance.
    async fn buy_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The item's key, as shopItems lists it.")] key: String,
    ) -> Result<BuyItemPayload, AppError> {
        let user = caller(ctx).require_user()?;
        let mut connection = connection(ctx).await?;
        let (item, _) = shop::buy(&mut connection, user, &key).await?;
        Ok(BuyItemPayload { item, user })
    }

    /// Equips a frame or title the caller owns, replacing the one of its kind equipped
    /// before. Not owned, or a consumable: BAD_USER_INPUT.
    async fn equip_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The item's key.")] key: String,
    ) -> Result<EquipPayload, AppError> {
        let user = caller(ctx).require_user()?;
        let mut connection = connection(ctx).await?;
        shop::equip(&mut connection, user, &key).await?;
        Ok(EquipPayload { user })
    }

    /// Unequips a frame or title; it stays owned. Not owned: BAD_USER_INPUT.
    async fn unequip_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The item's key.")] key: String,
    ) -> Result<EquipPayload, AppError> {
        let user = caller(ctx).require_user()?;
        let mut connection = connection(ctx).await?;
        shop::unequip(&mut connection, user, &key).await?;
        Ok(EquipPayload { user })
    }
}
