//! The XP shop's catalog as data, beside the rules table: what each item is, costs and
//! needs (contract, "XP shop"). Spending lowers a user's `xpBalance` only, never their
//! experiencePoints or level. The SQL (`buy_item`, migrations/) receives an item's
//! numbers from here as parameters; no SQL restates a price.

use async_graphql::Enum;

/// What kind of thing an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum ShopItemKind {
    /// Used up when bought (a streak freeze); may be bought again.
    Consumable,
    /// A profile frame; owned once, one equipped at a time.
    Frame,
    /// A profile title; owned once, one equipped at a time.
    Title,
}

/// Every item of the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShopItemKey {
    StreakFreeze,
    FrameBronze,
    FrameSilver,
    FrameGold,
    TitleWordsmith,
    TitleLoremaster,
    TitleLegend,
}

/// One row of the catalog.
#[derive(Debug)]
pub struct ShopItem {
    pub key: ShopItemKey,
    /// The name in the API and the database (`FRAME_BRONZE`).
    pub code: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub kind: ShopItemKind,
    /// In XP of the balance.
    pub price: i32,
    /// The level a buyer needs.
    pub min_level: i32,
}

impl ShopItemKey {
    /// The catalog, in the order `shopItems` lists it.
    pub const ALL: [ShopItemKey; 7] = [
        ShopItemKey::StreakFreeze,
        ShopItemKey::FrameBronze,
        ShopItemKey::FrameSilver,
        ShopItemKey::FrameGold,
        ShopItemKey::TitleWordsmith,
        ShopItemKey::TitleLoremaster,
        ShopItemKey::TitleLegend,
    ];

    /// The item's row. A `match`, so an item without one does not compile.
    pub const fn item(self) -> &'static ShopItem {
        match self {
            ShopItemKey::StreakFreeze => &ShopItem {
                key: ShopItemKey::StreakFreeze,
                code: "STREAK_FREEZE",
                name: "Streak Freeze",
                description: "Bridges one missed day of your streak; you hold at most 2",
                kind: ShopItemKind::Consumable,
                price: 200,
                min_level: 2,
            },
            ShopItemKey::FrameBronze => &ShopItem {
                key: ShopItemKey::FrameBronze,
                code: "FRAME_BRONZE",
                name: "Bronze Frame",
                description: "A bronze frame around your profile picture",
                kind: ShopItemKind::Frame,
                price: 250,
                min_level: 2,
            },
            ShopItemKey::FrameSilver => &ShopItem {
                key: ShopItemKey::FrameSilver,
                code: "FRAME_SILVER",
                name: "Silver Frame",
                description: "A silver frame around your profile picture",
                kind: ShopItemKind::Frame,
                price: 750,
                min_level: 5,
            },
            ShopItemKey::FrameGold => &ShopItem {
                key: ShopItemKey::FrameGold,
                code: "FRAME_GOLD",
                name: "Gold Frame",
                description: "A gold frame around your profile picture",
                kind: ShopItemKind::Frame,
                price: 2000,
                min_level: 10,
            },
            ShopItemKey::TitleWordsmith => &ShopItem {
                key: ShopItemKey::TitleWordsmith,
                code: "TITLE_WORDSMITH",
                name: "Wordsmith",
                description: "The title Wordsmith beside your name",
                kind: ShopItemKind::Title,
                price: 300,
                min_level: 3,
            },
            ShopItemKey::TitleLoremaster => &ShopItem {
                key: ShopItemKey::TitleLoremaster,
                code: "TITLE_LOREMASTER",
                name: "Loremaster",
                description: "The title Loremaster beside your name",
                kind: ShopItemKind::Title,
                price: 1500,
                min_level: 8,
            },
            ShopItemKey::TitleLegend => &ShopItem {
                key: ShopItemKey::TitleLegend,
                code: "TITLE_LEGEND",
                name: "Legend",
                description: "The title Legend beside your name",
                kind: ShopItemKind::Title,
                price: 5000,
                min_level: 15,
            },
        }
    }

    /// The item stored under `code`; None for any other text.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|key| key.item().code == code)
    }
}

/// The catalog, in order.
pub fn items() -> impl Iterator<Item = &'static ShopItem> {
    ShopItemKey::ALL.into_iter().map(ShopItemKey::item)
}

/// The items a level-up from `previous_level` to `level` unlocks: minLevel in
/// (previous_level, level].
pub fn unlocked_between(previous_level: i32, level: i32) -> Vec<&'static ShopItem> {
    items()
        .filter(|item| previous_level < item.min_level && item.min_level <= level)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_its_own_row_and_code() {
        for key in ShopItemKey::ALL {
            assert_eq!(key.item().key, key);
            assert_eq!(ShopItemKey::from_code(key.item().code), Some(key));
        }
        assert_eq!(ShopItemKey::from_code("FRAME_PLATINUM"), None);
    }

    #[test]
    fn a_level_up_unlocks_the_items_of_the_levels_it_crosses() {
        let codes = |items: Vec<&ShopItem>| items.iter().map(|item| item.code).collect::<Vec<_>>();
        assert_eq!(
            codes(unlocked_between(1, 2)),
            ["STREAK_FREEZE", "FRAME_BRONZE"]
        );
        assert_eq!(
            codes(unlocked_between(2, 5)),
            ["FRAME_SILVER", "TITLE_WORDSMITH"]
        );
        assert!(unlocked_between(15, 40).is_empty());
    }
}
