//! XP boosts: time-boxed multipliers admins create for events. `award_xp` (migrations/)
//! applies them, so every instance pays a new or ended boost from the next award on;
//! this module creates, ends and lists them.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::db::clock_now;
use crate::db::schema::xp_boosts;
use crate::domain::admin::{self, AdminActionKind, require_admin};
use crate::error::AppError;
use crate::xp::XpAction;

/// The longest window a boost may have.
pub const MAX_WINDOW: Duration = Duration::days(31);
/// Multipliers in hundredths: above 1, at most 5.
pub const MULTIPLIER_HUNDREDTHS: std::ops::RangeInclusive<i32> = 101..=500;
pub const NAME_MAX_CHARS: usize = 100;
/// How many boosts `xpBoosts` lists at most (the newest).
pub const LIST_LIMIT: i64 = 500;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = xp_boosts, check_for_backend(diesel::pg::Pg))]
pub struct BoostRecord {
    pub id: i64,
    pub name: String,
    pub multiplier_hundredths: i32,
    pub actions: Vec<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl BoostRecord {
    pub fn multiplier(&self) -> f64 {
        f64::from(self.multiplier_hundredths) / 100.0
    }

    /// The boosted actions; every boostable one when the boost names none.
    pub fn actions(&self) -> Vec<XpAction> {
        if self.actions.is_empty() {
            return XpAction::ALL
                .into_iter()
                .filter(|action| action.rule().boostable)
                .collect();
        }
        self.actions
            .iter()
            .filter_map(|name| XpAction::from_code(name))
            .collect()
    }

    /// Whether `now` lies inside the window (start included, end not).
    pub fn active_at(&self, now: DateTime<Utc>) -> bool {
        self.starts_at <= now && now < self.ends_at
    }
}

/// What an admin asks for.
pub struct NewBoost {
    pub name: String,
    pub multiplier: f64,
    /// Empty: every boostable action.
    pub actions: Vec<XpAction>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// The multiplier in hundredths, if it is in (1, 5] with at most 2 decimals.
pub fn multiplier_hundredths(multiplier: f64) -> Result<i32, AppError> {
    let hundredths = (multiplier * 100.0).round();
    let exact = multiplier.is_finite() && (multiplier * 100.0 - hundredths).abs() < 1e-6;
    if !exact
        || !(f64::from(*MULTIPLIER_HUNDREDTHS.start())..=f64::from(*MULTIPLIER_HUNDREDTHS.end()))
            .contains(&hundredths)
    {
        return Err(AppError::BadUserInput(format!(
            "multiplier must be above 1 and at most 5, with at most 2 decimals (such as 1.5), not {multiplier}"
        )));
    }
    Ok(hundredths as i32)
}

/// Checks `boost` and stores it; admins only (else FORBIDDEN). Nothing is written when
/// any part is wrong (BAD_USER_INPUT).
pub async fn create(
    connection: &mut AsyncPgConnection,
    admin: i64,
    boost: NewBoost,
) -> Result<BoostRecord, AppError> {
    require_admin(connection, admin).await?;
    let name = boost.name.trim().to_string();
    if name.is_empty() || name.chars().count() > NAME_MAX_CHARS {
        return Err(AppError::BadUserInput(format!(
            "a boost's name must have 1 to {NAME_MAX_CHARS} characters"
        )));
    }
    let hundredths = multiplier_hundredths(boost.multiplier)?;
    if let Some(action) = boost.actions.iter().find(|action| !action.rule().boostable) {
        return Err(AppError::BadUserInput(format!(
            "{} cannot be boosted; boostable actions: {}",
            action.as_str(),
            XpAction::ALL
                .into_iter()
                .filter(|action| action.rule().boostable)
                .map(XpAction::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if boost.ends_at <= boost.starts_at {
        return Err(AppError::BadUserInput(
            "endsAt must be later than startsAt".into(),
        ));
    }
    if boost.ends_at - boost.starts_at > MAX_WINDOW {
        return Err(AppError::BadUserInput(format!(
            "a boost lasts at most {} days",
            MAX_WINDOW.num_days()
        )));
    }
    let mut actions: Vec<&str> = boost.actions.iter().map(|action| action.as_str()).collect();
    actions.sort_unstable();
    actions.dedup();
    let actions: Vec<String> = actions.into_iter().map(str::to_string).collect();
    connection
        .transaction(async move |connection| {
            let created: BoostRecord = diesel::insert_into(xp_boosts::table)
                .values((
                    xp_boosts::name.eq(name),
                    xp_boosts::multiplier_hundredths.eq(hundredths),
                    xp_boosts::actions.eq(actions),
                    xp_boosts::starts_at.eq(boost.starts_at),
                    xp_boosts::ends_at.eq(boost.ends_at),
                    xp_boosts::created_by.eq(admin),
                ))
                .returning(BoostRecord::as_returning())
                .get_result(connection)
                .await?;
            admin::record(
                connection,
                Some(admin),
                AdminActionKind::CreateXpBoost,
                None,
                format!(
                    "boost {} \"{}\" x{} from {} to {}",
                    created.id,
                    created.name,
                    created.multiplier(),
                    created.starts_at.to_rfc3339(),
                    created.ends_at.to_rfc3339()
                ),
            )
            .await?;
            Ok(created)
        })
        .await
}

/// Ends a boost now (the request's clock): awards from this instant on pay without
/// it. A boost that has not started yet ends before it starts; one already over stays
/// as it was. Admins only; an unknown id is NOT_FOUND.
pub async fn end(
    connection: &mut AsyncPgConnection,
    admin: i64,
    id: i64,
) -> Result<BoostRecord, AppError> {
    require_admin(connection, admin).await?;
    connection
        .transaction(async move |connection| {
            let ended: Option<BoostRecord> = diesel::update(xp_boosts::table.find(id))
                .filter(xp_boosts::ends_at.nullable().gt(clock_now()))
                .set((
                    xp_boosts::ends_at.eq(diesel::dsl::sql::<diesel::sql_types::Timestamptz>(
                        "greatest(starts_at, storyxp_now())",
                    )),
                    xp_boosts::ended_by.eq(admin),
                ))
                .returning(BoostRecord::as_returning())
                .get_result(connection)
                .await
                .optional()?;
            match ended {
                Some(boost) => {
                    admin::record(
                        connection,
                        Some(admin),
                        AdminActionKind::EndXpBoost,
                        None,
                        format!("boost {} \"{}\" ended", boost.id, boost.name),
                    )
                    .await?;
                    Ok(boost)
                }
                None => xp_boosts::table
                    .find(id)
                    .select(BoostRecord::as_select())
                    .get_result(connection)
                    .await
                    .optional()?
                    .ok_or_else(|| AppError::NotFound(format!("no boost with id {id}"))),
            }
        })
        .await
}

/// The boosts, newest start first; with `active_only`, those whose window holds the
/// request's instant.
pub async fn list(
    connection: &mut AsyncPgConnection,
    active_only: bool,
) -> Result<Vec<BoostRecord>, AppError> {
    let mut query = xp_boosts::table
        .select(BoostRecord::as_select())
        .order((xp_boosts::starts_at.desc(), xp_boosts::id.desc()))
        .limit(LIST_LIMIT)
        .into_boxed();
    if active_only {
        query = query
            .filter(xp_boosts::starts_at.nullable().le(clock_now()))
            .filter(xp_boosts::ends_at.nullable().gt(clock_now()));
    }
    Ok(query.load(connection).await?)
}

/// The boosts with these ids (the ledger entries' boosts).
pub async fn find_many(
    connection: &mut AsyncPgConnection,
    ids: &[i64],
) -> Result<Vec<BoostRecord>, AppError> {
    Ok(xp_boosts::table
        .filter(xp_boosts::id.eq_any(ids))
        .select(BoostRecord::as_select())
        .load(connection)
        .await?)
}
