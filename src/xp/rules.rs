//! The XP rules as data: what each action is worth, to whom, counted once per what,
//! and the achievement catalog. Everything that awards XP reads it from here, the
//! database's award functions too (`xp::rules_table` writes it into `xp_rules`).

use async_graphql::Enum;

use crate::error::AppError;

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

/// Who receives an action's award.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    /// The author of the story someone acted on (a like, a comment).
    Author,
    /// The user who acted (wrote, published or read the story, created the character).
    Actor,
    /// Both users of a friendship that became mutual.
    BothFriends,
    /// The story's author and each accepted collaborator.
    Participants,
    /// The user who unlocked the achievement.
    Earner,
    /// The user an admin chose.
    Target,
}

impl Recipient {
    /// The name in the database's `xp_rules.recipient` (the SQL functions pay AUTHOR and
    /// ACTOR themselves, see `xp_story_rule` in migrations/).
    pub const fn as_str(self) -> &'static str {
        match self {
            Recipient::Author => "AUTHOR",
            Recipient::Actor => "ACTOR",
            Recipient::BothFriends => "BOTH_FRIENDS",
            Recipient::Participants => "PARTICIPANTS",
            Recipient::Earner => "EARNER",
            Recipient::Target => "TARGET",
        }
    }
}

/// One row of the rules table.
#[derive(Debug)]
pub struct XpRule {
    pub action: XpAction,
    pub name: &'static str,
    /// XP per award; None for CUSTOM: the caller must give the amount.
    pub xp: Option<i32>,
    pub recipient: Recipient,
    /// Whether the action pays when the acting user is the story's author: liking,
    /// commenting on or reading your own story earns nothing. True for actions that are
    /// not about someone else's story.
    pub pays_on_own_story: bool,
    pub description: &'static str,
}

impl XpAction {
    /// Every action, in the order of the enum (and of `xpRewards`).
    pub const ALL: [XpAction; 10] = [
        XpAction::StoryCreated,
        XpAction::StoryPublished,
        XpAction::CollaborationCompleted,
        XpAction::StoryLiked,
        XpAction::StoryCommented,
        XpAction::FriendAdded,
        XpAction::CharacterCreated,
        XpAction::StoryRead,
        XpAction::AchievementEarned,
        XpAction::Custom,
    ];

    /// The action's rule: the rules table. A `match`, so an action without a rule does
    /// not compile.
    pub const fn rule(self) -> &'static XpRule {
        match self {
            XpAction::StoryCreated => &XpRule {
                action: XpAction::StoryCreated,
                name: "STORY_CREATED",
                xp: Some(100),
                recipient: Recipient::Actor,
                pays_on_own_story: true,
                description: "Creating a new story (draft or published); once per story",
            },
            XpAction::StoryPublished => &XpRule {
                action: XpAction::StoryPublished,
                name: "STORY_PUBLISHED",
                xp: Some(50),
                recipient: Recipient::Actor,
                pays_on_own_story: true,
                description: "Publishing a story to the library; once per story, ever",
            },
            XpAction::CollaborationCompleted => &XpRule {
                action: XpAction::CollaborationCompleted,
                name: "COLLABORATION_COMPLETED",
                xp: Some(50),
                recipient: Recipient::Participants,
                pays_on_own_story: true,
                description: "Completing a collaborative story; to the author and each accepted collaborator, once per story",
            },
            XpAction::StoryLiked => &XpRule {
                action: XpAction::StoryLiked,
                name: "STORY_LIKED",
                xp: Some(5),
                recipient: Recipient::Author,
                pays_on_own_story: false,
                description: "Your story receives a like; once per story and liker, ever",
            },
            XpAction::StoryCommented => &XpRule {
                action: XpAction::StoryCommented,
                name: "STORY_COMMENTED",
                xp: Some(10),
                recipient: Recipient::Author,
                pays_on_own_story: false,
                description: "Your story receives a comment; once per story and commenter",
            },
            XpAction::FriendAdded => &XpRule {
                action: XpAction::FriendAdded,
                name: "FRIEND_ADDED",
                xp: Some(20),
                recipient: Recipient::BothFriends,
                pays_on_own_story: true,
                description: "Becoming friends; to both, once per pair, ever",
            },
            XpAction::CharacterCreated => &XpRule {
                action: XpAction::CharacterCreated,
                name: "CHARACTER_CREATED",
                xp: Some(25),
                recipient: Recipient::Actor,
                pays_on_own_story: true,
                description: "Creating a character",
            },
            XpAction::StoryRead => &XpRule {
                action: XpAction::StoryRead,
                name: "STORY_READ",
                xp: Some(5),
                recipient: Recipient::Actor,
                pays_on_own_story: false,
                description: "Reading someone else's story; once per story",
            },
            XpAction::AchievementEarned => &XpRule {
                action: XpAction::AchievementEarned,
                name: "ACHIEVEMENT_EARNED",
                xp: Some(30),
                recipient: Recipient::Earner,
                pays_on_own_story: true,
                description: "Earning an achievement; once per achievement",
            },
            XpAction::Custom => &XpRule {
                action: XpAction::Custom,
                name: "CUSTOM",
                xp: None,
                recipient: Recipient::Target,
                pays_on_own_story: true,
                description: "Awarded by an admin; the amount is set per award",
            },
        }
    }

    /// The name stored in the ledger (the GraphQL enum value).
    pub const fn as_str(self) -> &'static str {
        self.rule().name
    }

    /// The action stored under `name`; None for a name that is no action.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.as_str() == name)
    }

    /// The table amount; None for CUSTOM.
    pub const fn xp(self) -> Option<i32> {
        self.rule().xp
    }
}

/// The rules table, one rule per action, in the order of `XpAction::ALL`.
pub fn rules() -> impl Iterator<Item = &'static XpRule> {
    XpAction::ALL.into_iter().map(XpAction::rule)
}

impl XpRule {
    /// Who earns this rule's award when `actor` acts on a story that `author` wrote: None
    /// when the rule pays nothing for it (the actor's own story, when it does not pay
    /// for that). The database's `xp_story_rule` decides the same from `xp_rules` for the
    /// actions it pays itself (createStory, likeStory).
    pub fn story_recipient(&self, author: i64, actor: i64) -> Result<Option<i64>, AppError> {
        if author == actor && !self.pays_on_own_story {
            return Ok(None);
        }
        match self.recipient {
            Recipient::Author => Ok(Some(author)),
            Recipient::Actor => Ok(Some(actor)),
            Recipient::BothFriends
            | Recipient::Participants
            | Recipient::Earner
            | Recipient::Target => Err(AppError::Internal(format!(
                "{} is not paid to one user of an action on a story",
                self.name
            ))),
        }
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
    /// How every story's key begins. `create_story` (SQL) gets it as a parameter and
    /// appends the id of the story it creates, and backfill-xp looks awards up by it, so
    /// both make exactly `Story(id).key()`.
    pub const STORY_PREFIX: &'static str = "story:";

    /// The ledger's `subject`: the one place dedupe keys are made.
    pub fn key(&self) -> Option<String> {
        let story = Self::STORY_PREFIX;
        match self {
            Subject::Story(id) => Some(format!("{story}{id}")),
            Subject::StoryBy { story: id, user } => Some(format!("{story}{id}:by:{user}")),
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

#[derive(Debug)]
pub struct Achievement {
    pub key: AchievementKey,
    pub code: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub unlock: Unlock,
}

impl AchievementKey {
    /// The catalog, in display order. Level-based achievements come last so an award's
    /// achievement bonus can count toward them in the same call.
    pub const ALL: [AchievementKey; 10] = [
        AchievementKey::FirstStory,
        AchievementKey::Storyteller,
        AchievementKey::FirstPublish,
        AchievementKey::CrowdPleaser,
        AchievementKey::ConversationStarter,
        AchievementKey::SocialButterfly,
        AchievementKey::CharacterDesigner,
        AchievementKey::Bookworm,
        AchievementKey::TeamPlayer,
        AchievementKey::RisingStar,
    ];

    /// The achievement of the catalog. A `match`, so a key without an entry does not
    /// compile.
    pub const fn achievement(self) -> &'static Achievement {
        match self {
            AchievementKey::FirstStory => &Achievement {
                key: AchievementKey::FirstStory,
                code: "FIRST_STORY",
                name: "First Story",
                description: "Create your first story",
                unlock: Unlock::Count {
                    action: XpAction::StoryCreated,
                    count: 1,
                },
            },
            AchievementKey::Storyteller => &Achievement {
                key: AchievementKey::Storyteller,
                code: "STORYTELLER",
                name: "Storyteller",
                description: "Create 10 stories",
                unlock: Unlock::Count {
                    action: XpAction::StoryCreated,
                    count: 10,
                },
            },
            AchievementKey::FirstPublish => &Achievement {
                key: AchievementKey::FirstPublish,
                code: "FIRST_PUBLISH",
                name: "First Publish",
                description: "Publish your first story",
                unlock: Unlock::Count {
                    action: XpAction::StoryPublished,
                    count: 1,
                },
            },
            AchievementKey::CrowdPleaser => &Achievement {
                key: AchievementKey::CrowdPleaser,
                code: "CROWD_PLEASER",
                name: "Crowd Pleaser",
                description: "Receive 25 likes",
                unlock: Unlock::Count {
                    action: XpAction::StoryLiked,
                    count: 25,
                },
            },
            AchievementKey::ConversationStarter => &Achievement {
                key: AchievementKey::ConversationStarter,
                code: "CONVERSATION_STARTER",
                name: "Conversation Starter",
                description: "Receive 10 comments",
                unlock: Unlock::Count {
                    action: XpAction::StoryCommented,
                    count: 10,
                },
            },
            AchievementKey::SocialButterfly => &Achievement {
                key: AchievementKey::SocialButterfly,
                code: "SOCIAL_BUTTERFLY",
                name: "Social Butterfly",
                description: "Make 5 friends",
                unlock: Unlock::Count {
                    action: XpAction::FriendAdded,
                    count: 5,
                },
            },
            AchievementKey::CharacterDesigner => &Achievement {
                key: AchievementKey::CharacterDesigner,
                code: "CHARACTER_DESIGNER",
                name: "Character Designer",
                description: "Create 5 characters",
                unlock: Unlock::Count {
                    action: XpAction::CharacterCreated,
                    count: 5,
                },
            },
            AchievementKey::Bookworm => &Achievement {
                key: AchievementKey::Bookworm,
                code: "BOOKWORM",
                name: "Bookworm",
                description: "Read 10 stories",
                unlock: Unlock::Count {
                    action: XpAction::StoryRead,
                    count: 10,
                },
            },
            AchievementKey::TeamPlayer => &Achievement {
                key: AchievementKey::TeamPlayer,
                code: "TEAM_PLAYER",
                name: "Team Player",
                description: "Complete a collaboration",
                unlock: Unlock::Count {
                    action: XpAction::CollaborationCompleted,
                    count: 1,
                },
            },
            AchievementKey::RisingStar => &Achievement {
                key: AchievementKey::RisingStar,
                code: "RISING_STAR",
                name: "Rising Star",
                description: "Reach level 5",
                unlock: Unlock::Level(5),
            },
        }
    }

    pub const fn as_str(self) -> &'static str {
        self.achievement().code
    }

    /// The achievement stored under `code`; None for a code that is no achievement.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|key| key.as_str() == code)
    }
}

/// The catalog, in display order (`AchievementKey::ALL`).
pub fn achievements() -> impl Iterator<Item = &'static Achievement> {
    AchievementKey::ALL
        .into_iter()
        .map(AchievementKey::achievement)
}

/// `achievement_candidates(action)` as the JSON text `award_xp` takes, built once per
/// action (it is sent with every award).
pub fn achievement_candidates_json(action: XpAction) -> &'static str {
    static JSON: std::sync::LazyLock<[String; XpAction::ALL.len()]> =
        std::sync::LazyLock::new(|| {
            XpAction::ALL.map(|action| achievement_candidates(action).to_string())
        });
    // ALL is in the enum's order (a unit test checks), so the discriminant is the index.
    &JSON[action as usize]
}

/// The achievements an award of `action` may unlock, count-based first, as the JSON
/// the database's award function reads.
pub fn achievement_candidates(action: XpAction) -> serde_json::Value {
    let mut candidates: Vec<serde_json::Value> = achievements()
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
            Unlock::Count { .. } | Unlock::Level(_) => None,
        })
        .collect();
    candidates.extend(
        achievements().filter_map(|achievement| match achievement.unlock {
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
    use async_graphql::resolver_utils::EnumType;

    #[test]
    fn every_action_is_listed_once_in_the_enums_order() {
        let graphql: Vec<XpAction> = XpAction::items().iter().map(|item| item.value).collect();
        assert_eq!(graphql, XpAction::ALL);
        for (index, action) in XpAction::ALL.into_iter().enumerate() {
            assert_eq!(action as usize, index);
            assert_eq!(action.rule().action, action);
            assert_eq!(XpAction::from_name(action.as_str()), Some(action));
        }
    }

    #[test]
    fn rule_names_match_the_graphql_enum() {
        for item in XpAction::items() {
            assert_eq!(item.value.as_str(), item.name);
        }
    }

    #[test]
    fn every_achievement_is_listed_once_in_the_enums_order() {
        let graphql: Vec<AchievementKey> = AchievementKey::items()
            .iter()
            .map(|item| item.value)
            .collect();
        assert_eq!(graphql, AchievementKey::ALL);
        for item in AchievementKey::items() {
            assert_eq!(item.value.achievement().key, item.value);
            assert_eq!(item.value.as_str(), item.name);
            assert_eq!(AchievementKey::from_code(item.name), Some(item.value));
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
        assert_eq!(
            achievement_candidates_json(XpAction::StoryLiked),
            candidates.to_string()
        );
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

    #[test]
    fn own_stories_pay_only_what_the_rule_says() {
        let like = XpAction::StoryLiked.rule();
        assert_eq!(like.story_recipient(1, 2).unwrap(), Some(1));
        assert_eq!(like.story_recipient(1, 1).unwrap(), None);
        let read = XpAction::StoryRead.rule();
        assert_eq!(read.story_recipient(1, 2).unwrap(), Some(2));
        assert_eq!(read.story_recipient(1, 1).unwrap(), None);
        let create = XpAction::StoryCreated.rule();
        assert_eq!(create.story_recipient(1, 1).unwrap(), Some(1));
        assert!(XpAction::FriendAdded.rule().story_recipient(1, 2).is_err());
    }
}
