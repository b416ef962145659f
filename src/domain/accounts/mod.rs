//! Accounts: signing up and loading users; `sessions` logs them in and out.

pub mod sessions;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::auth::password;
use crate::db::schema::users;
use crate::error::AppError;

pub const USERNAME_LENGTH: std::ops::RangeInclusive<usize> = 3..=32;
pub const PASSWORD_LENGTH: std::ops::RangeInclusive<usize> = 8..=256;
pub const EMAIL_MAX_LENGTH: usize = 254;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub experience_points: i32,
    pub level: i32,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}

pub struct SignUp {
    pub username: String,
    pub email: String,
    pub password: String,
}

pub fn validate_username(username: &str) -> Result<(), AppError> {
    let valid_chars = username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !USERNAME_LENGTH.contains(&username.len()) || !valid_chars {
        return Err(AppError::BadUserInput(
            "username must be 3 to 32 characters: letters, digits or _".into(),
        ));
    }
    Ok(())
}

fn validate_email(email: &str) -> Result<(), AppError> {
    let well_formed = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        }
        None => false,
    };
    if !well_formed || email.len() > EMAIL_MAX_LENGTH || email.chars().any(char::is_whitespace) {
        return Err(AppError::BadUserInput(
            "email must be a valid address like name@example.com".into(),
        ));
    }
    Ok(())
}

pub fn validate_password(password: &str) -> Result<(), AppError> {
    if !PASSWORD_LENGTH.contains(&password.chars().count()) {
        return Err(AppError::BadUserInput(
            "password must be 8 to 256 characters long".into(),
        ));
    }
    Ok(())
}

pub async fn sign_up(
    connection: &mut AsyncPgConnection,
    input: SignUp,
) -> Result<UserRecord, AppError> {
    let username = input.username.trim().to_string();
    let email = input.email.trim().to_string();
    validate_username(&username)?;
    validate_email(&email)?;
    validate_password(&input.password)?;
    let password_hash = password::hash(input.password).await?;
    diesel::insert_into(users::table)
        .values((
            users::username.eq(&username),
            users::email.eq(&email),
            users::password_hash.eq(&password_hash),
        ))
        .returning(UserRecord::as_returning())
        .get_result(connection)
        .await
        .map_err(|error| match &error {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                info,
            ) => {
                if info.constraint_name() == Some("users_email_key") {
                    AppError::BadUserInput("an account with this email already exists".into())
                } else {
                    AppError::BadUserInput(format!("the username {username} is already taken"))
                }
            }
            _ => error.into(),
        })
}

pub async fn find(
    connection: &mut AsyncPgConnection,
    id: i64,
) -> Result<Option<UserRecord>, AppError> {
    Ok(users::table
        .find(id)
        .select(UserRecord::as_select())
        .first(connection)
        .await
        .optional()?)
}

pub async fn find_many(
    connection: &mut AsyncPgConnection,
    ids: &[i64],
) -> Result<Vec<UserRecord>, AppError> {
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .select(UserRecord::as_select())
        .load(connection)
        .await?)
}
