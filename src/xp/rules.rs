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
    /// The first activity of a local date with a streak of 2 or more days: 5 XP per
    /// streak day, at most 50 (day 10 on), once per local date.
    StreakBonus,
    /// A completed daily quest claimed: the quest's own XP (15 to 25), once per quest.
    QuestCompleted,
    /// All three daily quests of a local date claimed: 50 XP, once per date.
    DailyQuestsCleared,
    /// A collaboration was completed by participants who are friends: 25 XP to each
    /// participant who is a mutual friend of another participant, once per story.
    FriendCollaboration,
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
    /// At most this many paid awards per user and local date (None: no cap); past it
    /// the action succeeds and earns nothing, then or ever.
    pub daily_limit: Option<i32>,
    /// Whether an XP boost may multiply it (contract, "Boosts": the first eight).
    pub boostable: bool,
    pub description: &'static str,
}

impl XpAction {
    /// Every action, in the order of the enum (and of `xpRewards`).
    /// The action stored under `code` (its `as_str`); None for any other text.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.as_str() == code)
    }

    pub const ALL: [XpAction; 14] = [
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
        XpAction::StreakBonus,
        XpAction::QuestCompleted,
        XpAction::DailyQuestsCleared,
        XpAction::FriendCollaboration,
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
                daily_limit: Some(10),
                boostable: true,
                description: "Creating a new story (draft or published); once per story",
            },
            XpAction::StoryPublished => &XpRule {
                action: XpAction::StoryPublished,
                name: "STORY_PUBLISHED",
                xp: Some(50),
                recipient: Recipient::Actor,
                pays_on_own_story: true,
                daily_limit: Some(10),
                boostable: true,
                description: "Publishing a story to the library; once per story, ever",
            },
            XpAction::CollaborationCompleted => &XpRule {
                action: XpAction::CollaborationCompleted,
                name: "COLLABORATION_COMPLETED",
                xp: Some(50),
                recipient: Recipient::Participants,
                pays_on_own_story: true,
                daily_limit: None,
                boostable: true,
                description: "Completing a collaborative story; to the author and each accepted collaborator, once per story",
            },
            XpAction::StoryLiked => &XpRule {
                action: XpAction::StoryLiked,
                name: "STORY_LIKED",
                xp: Some(5),
                recipient: Recipient::Author,
                pays_on_own_story: false,
                daily_limit: None,
                boostable: true,
                description: "Your story receives a like; once per story and liker, ever",
            },
            XpAction::StoryCommented => &XpRule {
                action: XpAction::StoryCommented,
                name: "STORY_COMMENTED",
                xp: Some(10),
                recipient: Recipient::Author,
                pays_on_own_story: false,
                daily_limit: None,
                boostable: true,
                description: "Your story receives a comment; once per story and commenter",
            },
            XpAction::FriendAdded => &XpRule {
                action: XpAction::FriendAdded,
                name: "FRIEND_ADDED",
                xp: Some(20),
                recipient: Recipient::BothFriends,
                pays_on_own_story: true,
                daily_limit: None,
                boostable: true,
                description: "Becoming friends; to both, once per pair, ever",
            },
            XpAction::CharacterCreated => &XpRule {
                action: XpAction::CharacterCreated,
                name: "CHARACTER_CREATED",
                xp: Some(25),
                recipient: Recipient::Actor,
                pays_on_own_story: true,
                daily_limit: Some(10),
                boostable: true,
                description: "Creating a character",
            },
            XpAction::StoryRead => &XpRule {
                action: XpAction::StoryRead,
                name: "STORY_READ",
                xp: Some(5),
                recipient: Recipient::Actor,
                pays_on_own_story: false,
                daily_limit: Some(30),
                boostable: true,
                description: "Reading someone else's story; once per story",
            },
            XpAction::AchievementEarned => &XpRule {
                action: XpAction::AchievementEarned,
                name: "ACHIEVEMENT_EARNED",
                xp: Some(30),
                recipient: Recipient::Earner,
                pays_on_own_story: true,
                daily_limit: None,
                boostable: false,
                description: "Earning an achievement; once per achievement",
            },
            XpAction::Custom => &XpRule {
                action: XpAction::Custom,
                name: "CUSTOM",
                xp: None,
                recipient: Recipient::Target,
                pays_on_own_story: true,
                daily_limit: None,
                boostable: false,
                description: "Awarded by an admin; the amount is set per award",
            },
            XpAction::StreakBonus => &XpRule {
                action: XpAction::StreakBonus,
                name: "STREAK_BONUS",
                xp: Some(STREAK.xp_per_day * STREAK.xp_days),
                recipient: Recipient::Actor,
                pays_on_own_story: true,
                daily_limit: None,
                boostable: false,
                description: "The first activity of a day with a streak of 2 days or more: 5 XP per streak day, at most 50 (from day 10); once per local date. xp is the maximum",
            },
            XpAction::QuestCompleted => &XpRule {
                action: XpAction::QuestCompleted,
                name: "QUEST_COMPLETED",
                xp: Some(QUEST_XP_MAX),
                recipient: Recipient::Actor,
                pays_on_own_story: true,
                daily_limit: None,
                boostable: false,
                description: "Claiming a completed daily quest: the quest's own XP (15 to 25); once per quest. xp is the maximum",
            },
            XpAction::DailyQuestsCleared => &XpRule {
                action: XpAction::DailyQuestsCleared,
                name: "DAILY_QUESTS_CLEARED",
                xp: Some(50),
                recipient: Recipient::Actor,
                pays_on_own_story: true,
                daily_limit: None,
                boostable: false,
                description: "Claiming the last of a day's three daily quests; once per local date",
            },
            XpAction::FriendCollaboration => &XpRule {
                action: XpAction::FriendCollaboration,
                name: "FRIEND_COLLABORATION",
                xp: Some(25),
                recipient: Recipient::Participants,
                pays_on_own_story: true,
                daily_limit: None,
                boostable: false,
                description: "Completing a collaboration with friends: to each participant who is a mutual friend of another participant, once per story",
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

/// The streak rules (contract, "Streaks"); seeded into `xp_settings`, which the SQL
/// function `xp_activity` reads.
#[derive(Debug)]
pub struct StreakRules {
    /// STREAK_BONUS per streak day ...
    pub xp_per_day: i32,
    /// ... for at most this many days.
    pub xp_days: i32,
    /// A freeze is earned each time the streak reaches a multiple of this.
    pub freeze_every: i32,
    /// At most this many freezes held.
    pub max_freezes: i32,
}

pub const STREAK: StreakRules = StreakRules {
    xp_per_day: 5,
    xp_days: 10,
    freeze_every: 7,
    max_freezes: 2,
};

impl StreakRules {
    /// The named numbers as `xp_settings` stores them.
    pub fn settings(&self) -> [(&'static str, i32); 4] {
        [
            ("STREAK_XP_PER_DAY", self.xp_per_day),
            ("STREAK_XP_DAYS", self.xp_days),
            ("STREAK_FREEZE_EVERY", self.freeze_every),
            ("STREAK_FREEZES_MAX", self.max_freezes),
        ]
    }

    /// The streak as shown on local date `today`: `current` while an activity today (or
    /// the streak's last date) can still continue it, spending the freezes held over
    /// the gap; 0 once it cannot. Dates are calendar dates, so the gap is whole days
    /// whatever a DST night's length.
    pub fn shown_current(
        &self,
        current: i32,
        last: Option<chrono::NaiveDate>,
        freezes: i32,
        today: chrono::NaiveDate,
    ) -> i32 {
        let Some(last) = last else { return 0 };
        let missed = (today - last).num_days() - 1;
        if missed <= i64::from(freezes) {
            current
        } else {
            0
        }
    }

    /// The STREAK_BONUS of the first activity of a date with streak `current`.
    pub fn bonus(&self, current: i32) -> i32 {
        if current >= 2 {
            self.xp_per_day * current.min(self.xp_days)
        } else {
            0
        }
    }
}

/// The daily quest catalog (contract, "Daily quests").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum)]
pub enum QuestKey {
    /// Like 3 stories of other users (each story once).
    LikeStories,
    /// Comment on 2 stories of other users (each story once).
    CommentOnStories,
    /// Read 3 stories of other users (each story once).
    ReadStories,
    /// Write (create) a story.
    WriteStory,
    /// Publish a story.
    PublishStory,
    /// Create a character.
    CreateCharacter,
    /// Make a friend: send or accept a friend request.
    MakeFriend,
}

#[derive(Debug)]
pub struct Quest {
    pub key: QuestKey,
    pub code: &'static str,
    pub description: &'static str,
    pub target: i32,
    pub xp: i32,
    /// Counts only actions on other users' stories.
    pub others_only: bool,
}

/// The highest XP of a quest: what `xpRewards` shows for QUEST_COMPLETED.
pub const QUEST_XP_MAX: i32 = 25;

impl QuestKey {
    /// The catalog, in order (the order `xp_quest_keys` combines them in).
    pub const ALL: [QuestKey; 7] = [
        QuestKey::LikeStories,
        QuestKey::CommentOnStories,
        QuestKey::ReadStories,
        QuestKey::WriteStory,
        QuestKey::PublishStory,
        QuestKey::CreateCharacter,
        QuestKey::MakeFriend,
    ];

    /// The quest of the catalog; a `match`, no fallback.
    pub const fn quest(self) -> &'static Quest {
        match self {
            QuestKey::LikeStories => &Quest {
                key: QuestKey::LikeStories,
                code: "LIKE_STORIES",
                description: "Like 3 stories by other writers",
                target: 3,
                xp: 15,
                others_only: true,
            },
            QuestKey::CommentOnStories => &Quest {
                key: QuestKey::CommentOnStories,
                code: "COMMENT_ON_STORIES",
                description: "Comment on 2 stories by other writers",
                target: 2,
                xp: 20,
                others_only: true,
            },
            QuestKey::ReadStories => &Quest {
                key: QuestKey::ReadStories,
                code: "READ_STORIES",
                description: "Read 3 stories by other writers",
                target: 3,
                xp: 15,
                others_only: true,
            },
            QuestKey::WriteStory => &Quest {
                key: QuestKey::WriteStory,
                code: "WRITE_STORY",
                description: "Write a story",
                target: 1,
                xp: 25,
                others_only: false,
            },
            QuestKey::PublishStory => &Quest {
                key: QuestKey::PublishStory,
                code: "PUBLISH_STORY",
                description: "Publish a story",
                target: 1,
                xp: 25,
                others_only: false,
            },
            QuestKey::CreateCharacter => &Quest {
                key: QuestKey::CreateCharacter,
                code: "CREATE_CHARACTER",
                description: "Create a character",
                target: 1,
                xp: 20,
                others_only: false,
            },
            QuestKey::MakeFriend => &Quest {
                key: QuestKey::MakeFriend,
                code: "MAKE_FRIEND",
                description: "Send or accept a friend request",
                target: 1,
                xp: 20,
                others_only: false,
            },
        }
    }

    pub const fn as_str(self) -> &'static str {
        self.quest().code
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|key| key.as_str() == code)
    }
}

/// The catalog in order.
pub fn quests() -> impl Iterator<Item = &'static Quest> {
    QuestKey::ALL.into_iter().map(QuestKey::quest)
}

/// What a user did, as the daily loop counts it (contract, "Streaks": every one is an
/// activity; the quest it advances, if any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    CreateStory,
    PublishStory,
    /// A like of `story`; `own`: the liker wrote it.
    LikeStory {
        story: i64,
        own: bool,
    },
    CommentOnStory {
        story: i64,
        own: bool,
    },
    ReadStory {
        story: i64,
        own: bool,
    },
    CreateCharacter,
    /// addFriend: a request sent or accepted.
    AddFriend,
    CompleteCollaboration,
}

impl Activity {
    /// The quest this activity advances; an exhaustive `match`.
    pub const fn quest(self) -> Option<QuestKey> {
        match self {
            Activity::CreateStory => Some(QuestKey::WriteStory),
            Activity::PublishStory => Some(QuestKey::PublishStory),
            Activity::LikeStory { .. } => Some(QuestKey::LikeStories),
            Activity::CommentOnStory { .. } => Some(QuestKey::CommentOnStories),
            Activity::ReadStory { .. } => Some(QuestKey::ReadStories),
            Activity::CreateCharacter => Some(QuestKey::CreateCharacter),
            Activity::AddFriend => Some(QuestKey::MakeFriend),
            Activity::CompleteCollaboration => None,
        }
    }

    /// The story acted on, counted once per quest, and whether it is the actor's own.
    pub const fn story(self) -> Option<(i64, bool)> {
        match self {
            Activity::LikeStory { story, own }
            | Activity::CommentOnStory { story, own }
            | Activity::ReadStory { story, own } => Some((story, own)),
            Activity::CreateStory
            | Activity::PublishStory
            | Activity::CreateCharacter
            | Activity::AddFriend
            | Activity::CompleteCollaboration => None,
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
    /// Once per local date (STREAK_BONUS, DAILY_QUESTS_CLEARED).
    Date(chrono::NaiveDate),
    /// Once per quest of a date.
    Quest {
        date: chrono::NaiveDate,
        key: QuestKey,
    },
    /// Every call counts.
    Unique,
}

impl Subject {
    /// How every story's key begins. `create_story` (SQL) gets it as a parameter and
    /// appends the id of the story it creates, and backfill-xp looks awards up by it, so
    /// both make exactly `Story(id).key()`.
    pub const STORY_PREFIX: &'static str = "story:";
    /// How every date's key begins. `xp_activity` (SQL) writes STREAK_BONUS keys as
    /// this prefix and the date; `tests/api/rules.rs` checks they equal `Date(d).key()`.
    pub const DATE_PREFIX: &'static str = "date:";

    /// The ledger's `subject`: the one place dedupe keys are made.
    pub fn key(&self) -> Option<String> {
        let story = Self::STORY_PREFIX;
        match self {
            Subject::Story(id) => Some(format!("{story}{id}")),
            Subject::StoryBy { story: id, user } => Some(format!("{story}{id}:by:{user}")),
            Subject::User(user) => Some(format!("user:{user}")),
            Subject::Character(character) => Some(format!("character:{character}")),
            Subject::Achievement(key) => Some(key.as_str().to_string()),
            Subject::Date(date) => Some(format!("{}{date}", Self::DATE_PREFIX)),
            Subject::Quest { date, key } => Some(format!("quest:{date}:{}", key.as_str())),
            Subject::Unique => None,
        }
    }
}

/// The achievements of the catalog. Each is earned once per user and pays its own XP,
/// else ACHIEVEMENT_EARNED's (30); counts are of the XP awards of that kind the user
/// received.
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
    /// A streak of 7 days (70 XP).
    WeekStreak,
    /// A streak of 30 days (300 XP).
    MonthStreak,
    /// All three daily quests claimed on 7 different dates (100 XP).
    QuestChampion,
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
    /// When the user's current streak reaches this many days.
    Streak(i32),
}

#[derive(Debug)]
pub struct Achievement {
    pub key: AchievementKey,
    pub code: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub unlock: Unlock,
    /// Its own XP; None: what ACHIEVEMENT_EARNED pays (30 by default).
    pub xp: Option<i32>,
}

impl AchievementKey {
    /// The catalog, in display order. Level-based achievements come last so an award's
    /// achievement bonus can count toward them in the same call.
    pub const ALL: [AchievementKey; 13] = [
        AchievementKey::FirstStory,
        AchievementKey::Storyteller,
        AchievementKey::FirstPublish,
        AchievementKey::CrowdPleaser,
        AchievementKey::ConversationStarter,
        AchievementKey::SocialButterfly,
        AchievementKey::CharacterDesigner,
        AchievementKey::Bookworm,
        AchievementKey::TeamPlayer,
        AchievementKey::WeekStreak,
        AchievementKey::MonthStreak,
        AchievementKey::QuestChampion,
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
                xp: None,
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
                xp: None,
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
                xp: None,
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
                xp: None,
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
                xp: None,
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
                xp: None,
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
                xp: None,
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
                xp: None,
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
                xp: None,
            },
            AchievementKey::RisingStar => &Achievement {
                key: AchievementKey::RisingStar,
                code: "RISING_STAR",
                name: "Rising Star",
                description: "Reach level 5",
                unlock: Unlock::Level(5),
                xp: None,
            },
            AchievementKey::WeekStreak => &Achievement {
                key: AchievementKey::WeekStreak,
                code: "WEEK_STREAK",
                name: "Week Streak",
                description: "Keep a 7-day streak",
                unlock: Unlock::Streak(7),
                xp: Some(70),
            },
            AchievementKey::MonthStreak => &Achievement {
                key: AchievementKey::MonthStreak,
                code: "MONTH_STREAK",
                name: "Month Streak",
                description: "Keep a 30-day streak",
                unlock: Unlock::Streak(30),
                xp: Some(300),
            },
            AchievementKey::QuestChampion => &Achievement {
                key: AchievementKey::QuestChampion,
                code: "QUEST_CHAMPION",
                name: "Quest Champion",
                description: "Claim all three daily quests on 7 different days",
                unlock: Unlock::Count {
                    action: XpAction::DailyQuestsCleared,
                    count: 7,
                },
                xp: Some(100),
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
            } if counted == action => Some(with_xp(
                achievement,
                serde_json::json!({
                    "key": achievement.code,
                    "name": achievement.name,
                    "action": counted.as_str(),
                    "count": count,
                }),
            )),
            Unlock::Streak(days) if action == XpAction::StreakBonus => Some(with_xp(
                achievement,
                serde_json::json!({
                    "key": achievement.code,
                    "name": achievement.name,
                    "streak": days,
                }),
            )),
            Unlock::Count { .. } | Unlock::Level(_) | Unlock::Streak(_) => None,
        })
        .collect();
    candidates.extend(
        achievements().filter_map(|achievement| match achievement.unlock {
            Unlock::Level(level) => Some(with_xp(
                achievement,
                serde_json::json!({
                    "key": achievement.code,
                    "name": achievement.name,
                    "level": level,
                }),
            )),
            Unlock::Count { .. } | Unlock::Streak(_) => None,
        }),
    );
    serde_json::Value::Array(candidates)
}

/// A candidate with the achievement's own XP, when it has one.
fn with_xp(achievement: &Achievement, mut candidate: serde_json::Value) -> serde_json::Value {
    if let (Some(xp), Some(object)) = (achievement.xp, candidate.as_object_mut()) {
        object.insert("xp".into(), xp.into());
    }
    candidate
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
