//! The XP rules as data: what each action is worth, to whom, counted once per what,
//! and the achievement catalog. Everything that awards XP reads it from here.

use async_graphql::Enum;

/// Every kind of award: what XP was earned for. The names are stored in the ledger and
/// exposed in GraphQL; `xpRewards` says what each is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum)]
pub enum XpAction {
    /// A story was created: 100 XP to its author, once per story.
    StoryCreated,
    /// A story was published: 50 XP to its author, once per story, ever.
    StoryPublished,
    /// A collaboration was completed: 50 XP to the author and to each accepted
    /// collaborator, once per story.
    CollaborationCompleted,
    /// A story received a like: 5 XP to its author, once per story and liker, ever (own
    /// likes earn nothing).
    StoryLiked,
    /// A story received a comment: 10 XP to its author, once per story and commenter (own
    /// comments earn nothing).
    StoryCommented,
    /// A friendship became mutual: 20 XP to each of the two, once per pair, ever.
    FriendAdded,
    /// A character was created: 25 XP to its creator, once per character.
    CharacterCreated,
    /// Someone else's story was read: 5 XP to the reader, once per story.
    StoryRead,
    /// An achievement was unlocked: 30 XP to its earner, once per achievement.
    AchievementEarned,
    /// An admin's awardXp with an amount of its own (1 to 10,000); every call counts.
    Custom,
}

/// One row of the rules table.
pub struct XpRule {
    pub action: XpAction,
    pub name: &'static str,
    /// None for CUSTOM: the caller must give the amount.
    pub xp: Option<i32>,
    pub description: &'static str,
}

pub const RULES: &[XpRule] = &[
    rule(
        XpAction::StoryCreated,
        "STORY_CREATED",
        100,
        "Creating a new story (draft or published); once per story",
    ),
    rule(
        XpAction::StoryPublished,
        "STORY_PUBLISHED",
        50,
        "Publishing a story to the library; once per story, ever",
    ),
    rule(
        XpAction::CollaborationCompleted,
        "COLLABORATION_COMPLETED",
        50,
        "Completing a collaborative story; to the author and each accepted collaborator, once per story",
    ),
    rule(
        XpAction::StoryLiked,
        "STORY_LIKED",
        5,
        "Your story receives a like; once per story and liker, ever",
    ),
    rule(
        XpAction::StoryCommented,
        "STORY_COMMENTED",
        10,
        "Your story receives a comment; once per story and commenter",
    ),
    rule(
        XpAction::FriendAdded,
        "FRIEND_ADDED",
        20,
        "Becoming friends; to both, once per pair, ever",
    ),
    rule(
        XpAction::CharacterCreated,
        "CHARACTER_CREATED",
        25,
        "Creating a character",
    ),
    rule(
        XpAction::StoryRead,
        "STORY_READ",
        5,
        "Reading someone else's story; once per story",
    ),
    rule(
        XpAction::AchievementEarned,
        "ACHIEVEMENT_EARNED",
        30,
        "Earning an achievement; once per achievement",
    ),
    XpRule {
        action: XpAction::Custom,
        name: "CUSTOM",
        xp: None,
        description: "Awarded by an admin; the amount is set per award",
    },
];

const fn rule(action: XpAction, name: &'static str, xp: i32, description: &'static str) -> XpRule {
    XpRule {
        action,
        name,
        xp: Some(xp),
        description,
    }
}

impl XpAction {
    pub fn rule(self) -> &'static XpRule {
        RULES
            .iter()
            .find(|rule| rule.action == self)
            .unwrap_or(&RULES[RULES.len() - 1])
    }

    /// The name stored in the ledger (the GraphQL enum value).
    pub fn as_str(self) -> &'static str {
        self.rule().name
    }

    pub fn from_name(name: &str) -> Option<Self> {
        RULES
            .iter()
            .find(|rule| rule.name == name)
            .map(|rule| rule.action)
    }

    /// The table amount; None for CUSTOM.
    pub fn xp(self) -> Option<i32> {
        self.rule().xp
    }
}

/// What an award is for: two awards with the same recipient, action and subject are one.
/// `None` (admin awards) is never deduplicated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// Once per story (created, published, read by the recipient, collaboration completed).
    Story(i64),
    /// Once per story and acting user (a like or a comment by that user).
    StoryBy { story: i64, user: i64 },
    /// Once per other user (a friendship).
    User(i64),
    /// Once per character.
    Character(i64),
    /// Once per achievement.
    Achievement(AchievementKey),
    /// Every call counts.
    Unique,
}

impl Subject {
    pub fn key(&self) -> Option<String> {
        match self {
            Subject::Story(story) => Some(format!("story:{story}")),
            Subject::StoryBy { story, user } => Some(format!("story:{story}:by:{user}")),
            Subject::User(user) => Some(format!("user:{user}")),
            Subject::Character(character) => Some(format!("character:{character}")),
            Subject::Achievement(key) => Some(key.as_str().to_string()),
            Subject::Unique => None,
        }
    }
}

/// The achievements of the catalog. Each is earned once per user and pays 30 XP
/// (ACHIEVEMENT_EARNED); counts are of the XP awards of that kind the user received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum)]
#[graphql(name = "AchievementKey")]
pub enum AchievementKey {
    /// 1 story created.
    FirstStory,
    /// 10 stories created.
    Storyteller,
    /// 1 story published.
    FirstPublish,
    /// 25 likes received from other users (each user's like of a story counts once).
    CrowdPleaser,
    /// 10 comments received from other users (one per user and story counts).
    ConversationStarter,
    /// 5 friendships made (a friend removed later still counts).
    SocialButterfly,
    /// 5 characters created.
    CharacterDesigner,
    /// 10 stories of other users read.
    Bookworm,
    /// 1 collaboration completed, as its author or an accepted collaborator.
    TeamPlayer,
    /// Level 5 reached.
    RisingStar,
}

/// When an achievement unlocks.
#[derive(Debug, Clone, Copy)]
pub enum Unlock {
    /// When the user has received `count` awards of `action`.
    Count { action: XpAction, count: i32 },
    /// When the user reaches `level`.
    Level(i32),
}

pub struct Achievement {
    pub key: AchievementKey,
    pub code: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub unlock: Unlock,
}

const fn count(action: XpAction, count: i32) -> Unlock {
    Unlock::Count { action, count }
}

/// The catalog, in display order. Level-based achievements come last so an
/// award's achievement bonus can count toward them in the same call.
pub const ACHIEVEMENTS: &[Achievement] = &[
    achievement(
        AchievementKey::FirstStory,
        "FIRST_STORY",
        "First Story",
        "Create your first story",
        count(XpAction::StoryCreated, 1),
    ),
    achievement(
        AchievementKey::Storyteller,
        "STORYTELLER",
        "Storyteller",
        "Create 10 stories",
        count(XpAction::StoryCreated, 10),
    ),
    achievement(
        AchievementKey::FirstPublish,
        "FIRST_PUBLISH",
        "First Publish",
        "Publish your first story",
        count(XpAction::StoryPublished, 1),
    ),
    achievement(
        AchievementKey::CrowdPleaser,
        "CROWD_PLEASER",
        "Crowd Pleaser",
        "Receive 25 likes",
        count(XpAction::StoryLiked, 25),
    ),
    achievement(
        AchievementKey::ConversationStarter,
        "CONVERSATION_STARTER",
        "Conversation Starter",
        "Receive 10 comments",
        count(XpAction::StoryCommented, 10),
    ),
    achievement(
        AchievementKey::SocialButterfly,
        "SOCIAL_BUTTERFLY",
        "Social Butterfly",
        "Make 5 friends",
        count(XpAction::FriendAdded, 5),
    ),
    achievement(
        AchievementKey::CharacterDesigner,
        "CHARACTER_DESIGNER",
        "Character Designer",
        "Create 5 characters",
        count(XpAction::CharacterCreated, 5),
    ),
    achievement(
        AchievementKey::Bookworm,
        "BOOKWORM",
        "Bookworm",
        "Read 10 stories",
        count(XpAction::StoryRead, 10),
    ),
    achievement(
        AchievementKey::TeamPlayer,
        "TEAM_PLAYER",
        "Team Player",
        "Complete a collaboration",
        count(XpAction::CollaborationCompleted, 1),
    ),
    achievement(
        AchievementKey::RisingStar,
        "RISING_STAR",
        "Rising Star",
        "Reach level 5",
        Unlock::Level(5),
    ),
];

const fn achievement(
    key: AchievementKey,
    code: &'static str,
    name: &'static str,
    description: &'static str,
    unlock: Unlock,
) -> Achievement {
    Achievement {
        key,
        code,
        name,
        description,
        unlock,
    }
}

impl AchievementKey {
    pub fn achievement(self) -> &'static Achievement {
        ACHIEVEMENTS
            .iter()
            .find(|achievement| achievement.key == self)
            .unwrap_or(&ACHIEVEMENTS[0])
    }

    pub fn as_str(self) -> &'static str {
        self.achievement().code
    }

    pub fn from_code(code: &str) -> Option<Self> {
        ACHIEVEMENTS
            .iter()
            .find(|achievement| achievement.code == code)
            .map(|achievement| achievement.key)
    }
}

/// `achievement_candidates(action)` as the JSON text `award_xp` takes, built once per
/// action (it is sent with every award).
pub fn achievement_candidates_json(action: XpAction) -> &'static str {
    static JSON: std::sync::LazyLock<std::collections::HashMap<XpAction, String>> =
        std::sync::LazyLock::new(|| {
            RULES
                .iter()
                .map(|rule| (rule.action, achievement_candidates(rule.action).to_string()))
                .collect()
        });
    JSON.get(&action).map_or("[]", String::as_str)
}

/// The achievements an award of `action` may unlock, count-based first, as the JSON
/// the database's award function reads.
pub fn achievement_candidates(action: XpAction) -> serde_json::Value {
    let mut candidates: Vec<serde_json::Value> = ACHIEVEMENTS
        .iter()
        .filter_map(|achievement| match achievement.unlock {
            Unlock::Count {
                action: counted,
                count,
            } if counted == action => Some(serde_json::json!({
                "key": achievement.code,
                "name": achievement.name,
                "action": counted.as_str(),
                "count": count,
            })),
            _ => None,
        })
        .collect();
    candidates.extend(
        ACHIEVEMENTS
            .iter()
            .filter_map(|achievement| match achievement.unlock {
                Unlock::Level(level) => Some(serde_json::json!({
                    "key": achievement.code,
                    "name": achievement.name,
                    "level": level,
                })),
                Unlock::Count { .. } => None,
            }),
    );
    serde_json::Value::Array(candidates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_exactly_one_rule() {
        for rule in RULES {
            assert_eq!(
                RULES
                    .iter()
                    .filter(|other| other.action == rule.action)
                    .count(),
                1
            );
            assert_eq!(XpAction::from_name(rule.name), Some(rule.action));
            assert_eq!(rule.action.as_str(), rule.name);
        }
    }

    #[test]
    fn rule_names_match_the_graphql_enum() {
        for rule in RULES {
            let graphql = async_graphql::InputType::to_value(&rule.action);
            assert_eq!(graphql.to_string(), rule.name);
        }
    }

    #[test]
    fn achievement_codes_match_the_graphql_enum() {
        for achievement in ACHIEVEMENTS {
            let graphql = async_graphql::InputType::to_value(&achievement.key);
            assert_eq!(graphql.to_string(), achievement.code);
            assert_eq!(
                AchievementKey::from_code(achievement.code),
                Some(achievement.key)
            );
        }
    }

    #[test]
    fn likes_can_unlock_crowd_pleaser_then_rising_star() {
        let candidates = achievement_candidates(XpAction::StoryLiked);
        let keys: Vec<&str> = candidates
            .as_array()
            .unwrap()
            .iter()
            .map(|candidate| candidate["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["CROWD_PLEASER", "RISING_STAR"]);
    }

    #[test]
    fn subjects_make_distinct_keys() {
        assert_eq!(Subject::Story(7).key().as_deref(), Some("story:7"));
        assert_eq!(
            Subject::StoryBy { story: 7, user: 3 }.key().as_deref(),
            Some("story:7:by:3")
        );
        assert_eq!(Subject::Unique.key(), None);
    }
}
