//! Daily quests: reading a date's three and claiming their rewards. Which three a
//! (user, date) gets is the SQL function `xp_quest_keys` (the one place it is decided,
//! for reads and for the actions that advance them); progress moves in `xp_activity`.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::sql_types::{BigInt, Date, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::error::AppError;
use crate::xp::rules::{QuestKey, Subject};
use crate::xp::{Award, AwardRequest, XpAction, award};

/// One quest of a user's date.
#[derive(Debug, Clone)]
pub struct Quest {
    pub key: QuestKey,
    pub target: i32,
    pub progress: i32,
    pub claimed_at: Option<DateTime<Utc>>,
    pub xp: i32,
    pub date: NaiveDate,
}

impl Quest {
    pub fn completed(&self) -> bool {
        self.progress >= self.target
    }
}

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Integer)]
    target: i32,
    #[diesel(sql_type = Integer)]
    progress: i32,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    claimed_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Integer)]
    xp: i32,
    #[diesel(sql_type = Date)]
    date: NaiveDate,
}

impl Row {
    fn into_quest(self) -> Result<Quest, AppError> {
        let key = QuestKey::from_code(&self.key)
            .ok_or_else(|| AppError::Internal(format!("no quest {} in the catalog", self.key)))?;
        Ok(Quest {
            key,
            target: self.target,
            progress: self.progress,
            claimed_at: self.claimed_at,
            xp: self.xp,
            date: self.date,
        })
    }
}

/// The user's three quests of `date` (None: their local date now), in order: the ones
/// made at that date's first activity, else (no activity yet) the ones it will make.
pub async fn for_date(
    connection: &mut AsyncPgConnection,
    user: i64,
    date: Option<NaiveDate>,
) -> Result<Vec<Quest>, AppError> {
    let rows: Vec<Row> = diesel::sql_query(
        "WITH day AS (SELECT u.id, coalesce($2, xp_local_date(u.timezone)) AS date FROM users u WHERE u.id = $1) \
         SELECT d.quest AS key, d.target, d.progress, d.claimed_at, d.xp, d.date \
           FROM day JOIN daily_quests d ON d.user_id = day.id AND d.date = day.date \
         UNION ALL \
         SELECT k.key, q.target, 0, NULL, q.xp, day.date \
           FROM day, unnest(xp_quest_keys(day.id, day.date)) WITH ORDINALITY AS k (key, n) \
           JOIN xp_quests q ON q.key = k.key \
          WHERE NOT EXISTS (SELECT 1 FROM daily_quests d WHERE d.user_id = day.id AND d.date = day.date) \
         ORDER BY 1",
    )
    .bind::<BigInt, _>(user)
    .bind::<Nullable<Date>, _>(date)
    .load(connection)
    .await?;
    let mut quests = rows
        .into_iter()
        .map(Row::into_quest)
        .collect::<Result<Vec<_>, _>>()?;
    quests.sort_by_key(|quest| QuestKey::ALL.iter().position(|key| *key == quest.key));
    Ok(quests)
}

/// What a claim came to: the quest, and its awards (QUEST_COMPLETED, then
/// DAILY_QUESTS_CLEARED when it was the date's last), in that order.
pub struct Claimed {
    pub quest: Quest,
    pub awards: Vec<Award>,
}

/// Claims the caller's completed quest `key` of `date` (None: their local date now):
/// pays QUEST_COMPLETED (the quest's XP) once, and DAILY_QUESTS_CLEARED with the date's
/// third claim. Under the user's row lock, so concurrent claims pay once and the third
/// claim is seen as the third.
pub async fn claim(
    connection: &mut AsyncPgConnection,
    user: i64,
    key: QuestKey,
    date: Option<NaiveDate>,
) -> Result<Claimed, AppError> {
    connection
        .transaction(async move |connection| {
            #[derive(diesel::QueryableByName)]
            struct Today {
                #[diesel(sql_type = Date)]
                today: NaiveDate,
            }
            let today: Today = diesel::sql_query(
                "SELECT xp_local_date(timezone) AS today FROM users WHERE id = $1 FOR NO KEY UPDATE",
            )
            .bind::<BigInt, _>(user)
            .get_result(connection)
            .await?;
            let date = date.unwrap_or(today.today);
            let quest = for_date(connection, user, Some(date))
                .await?
                .into_iter()
                .find(|quest| quest.key == key)
                .ok_or_else(|| {
                    AppError::BadUserInput(format!(
                        "{} is not one of your daily quests of {date}",
                        key.as_str()
                    ))
                })?;
            if quest.claimed_at.is_some() {
                return Err(AppError::BadUserInput(format!(
                    "the quest {} of {date} is already claimed",
                    key.as_str()
                )));
            }
            if !quest.completed() {
                return Err(AppError::BadUserInput(format!(
                    "the quest {} of {date} is not completed yet: {} of {}",
                    key.as_str(),
                    quest.progress,
                    quest.target
                )));
            }
            #[derive(diesel::QueryableByName)]
            struct Marked {
                #[diesel(sql_type = Timestamptz)]
                claimed_at: DateTime<Utc>,
                #[diesel(sql_type = BigInt)]
                claimed: i64,
            }
            let marked: Marked = diesel::sql_query(
                "WITH marked AS (UPDATE daily_quests SET claimed_at = storyxp_now() \
                                  WHERE user_id = $1 AND date = $2 AND quest = $3 AND claimed_at IS NULL \
                                  RETURNING claimed_at) \
                 SELECT (SELECT claimed_at FROM marked) AS claimed_at, \
                        (SELECT count(*) FROM daily_quests d WHERE d.user_id = $1 AND d.date = $2 \
                            AND d.claimed_at IS NOT NULL) + 1 AS claimed",
            )
            .bind::<BigInt, _>(user)
            .bind::<Date, _>(date)
            .bind::<Text, _>(key.as_str())
            .get_result(connection)
            .await?;
            let mut awards = Vec::new();
            let completed = AwardRequest {
                amount: Some(quest.xp),
                ..AwardRequest::new(user, XpAction::QuestCompleted, Subject::Quest { date, key })
            };
            awards.extend(award(connection, completed).await?);
            if marked.claimed >= 3 {
                awards.extend(
                    award(
                        connection,
                        AwardRequest::new(user, XpAction::DailyQuestsCleared, Subject::Date(date)),
                    )
                    .await?,
                );
            }
            let quest = Quest {
                claimed_at: Some(marked.claimed_at),
                ..quest
            };
            Ok(Claimed { quest, awards })
        })
        .await
}
