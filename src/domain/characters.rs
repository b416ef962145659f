//! Characters writers create; each earns CHARACTER_CREATED.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::db::schema::characters;
use crate::error::AppError;
use crate::xp::rules::{Activity, Subject};

use crate::xp::{Award, AwardRequest, XpAction, award, record_activity};

pub const NAME_MAX_CHARS: usize = 100;
pub const DESCRIPTION_MAX_CHARS: usize = 10_000;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = characters, check_for_backend(diesel::pg::Pg))]
pub struct CharacterRecord {
    pub id: i64,
    pub owner_id: i64,
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

pub async fn create(
    connection: &mut AsyncPgConnection,
    owner: i64,
    name: String,
    description: String,
) -> Result<(CharacterRecord, Option<Award>), AppError> {
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > NAME_MAX_CHARS {
        return Err(AppError::BadUserInput(format!(
            "a character's name must be 1 to {NAME_MAX_CHARS} characters"
        )));
    }
    if description.chars().count() > DESCRIPTION_MAX_CHARS {
        return Err(AppError::BadUserInput(format!(
            "a character's description is at most {DESCRIPTION_MAX_CHARS} characters"
        )));
    }
    connection
        .transaction(async move |connection| {
            let character: CharacterRecord = diesel::insert_into(characters::table)
                .values((
                    characters::owner_id.eq(owner),
                    characters::name.eq(&name),
                    characters::description.eq(&description),
                ))
                .returning(CharacterRecord::as_returning())
                .get_result(connection)
                .await?;
            let bonus = record_activity(connection, owner, Activity::CreateCharacter).await?;
            let subject = Subject::Character(character.id);
            let award = award(
                connection,
                AwardRequest::new(owner, XpAction::CharacterCreated, subject),
            )
            .await?;
            Ok((character, Award::combine(bonus, award)))
        })
        .await
}

/// The characters of the given users, oldest first.
pub async fn for_owners(
    connection: &mut AsyncPgConnection,
    owners: &[i64],
) -> Result<Vec<CharacterRecord>, AppError> {
    Ok(characters::table
        .filter(characters::owner_id.eq_any(owners))
        .order(characters::id.asc())
        .select(CharacterRecord::as_select())
        .load(connection)
        .await?)
}
