//! `storyxp import-django DUMP.json`: users and stories from `manage.py dumpdata
//! auth.user storybook.story`, streamed (the dump is never held in memory), in one
//! transaction (a malformed dump imports nothing), awarding no XP. Rows keep their
//! Django primary key, so a re-run skips what is already there.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use tokio::sync::mpsc;

use crate::domain::accounts::validate_username;
use crate::domain::stories::{CONTENT_MAX_CHARS, TITLE_MAX_CHARS};

/// Rows sent to the database per statement.
const BATCH: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("the dump is not valid dumpdata JSON: {0}")]
    Malformed(String),
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub users_imported: u64,
    pub users_skipped: u64,
    pub stories_imported: u64,
    pub stories_skipped: u64,
    pub other_records_ignored: u64,
}

#[derive(Deserialize)]
struct DumpObject {
    model: String,
    pk: i64,
    fields: serde_json::Value,
}

#[derive(Deserialize)]
struct DjangoUser {
    username: String,
    #[serde(default)]
    email: String,
    password: String,
}

#[derive(Deserialize)]
struct DjangoStory {
    author: i64,
    title: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    is_published: bool,
    #[serde(default)]
    created_at: Option<String>,
}

struct UserRow {
    django_id: i64,
    username: String,
    email: String,
    password_hash: String,
}

struct StoryRow {
    django_id: i64,
    author: i64,
    title: String,
    content: String,
    published: bool,
    created_at: Option<DateTime<Utc>>,
}

enum Record {
    User(UserRow),
    Story(StoryRow),
    Other,
}

fn parse_record(object: DumpObject) -> Result<Record, String> {
    let pk = object.pk;
    match object.model.as_str() {
        "auth.user" => {
            let user: DjangoUser = serde_json::from_value(object.fields)
                .map_err(|error| format!("auth.user {pk}: {error}"))?;
            validate_username(&user.username)
                .map_err(|_| format!("auth.user {pk}: the username {:?} is not valid here (3 to 32 letters, digits or _)", user.username))?;
            let email = match user.email.trim() {
                // Django allows accounts without email; storyxp needs a unique one.
                "" => format!("{}@imported.invalid", user.username.to_lowercase()),
                email => email.to_string(),
            };
            Ok(Record::User(UserRow {
                django_id: pk,
                username: user.username,
                email,
                password_hash: user.password,
            }))
        }
        "storybook.story" => {
            let story: DjangoStory = serde_json::from_value(object.fields)
                .map_err(|error| format!("storybook.story {pk}: {error}"))?;
            let title = story.title.trim().to_string();
            if title.is_empty() || title.chars().count() > TITLE_MAX_CHARS {
                return Err(format!(
                    "storybook.story {pk}: the title must be 1 to {TITLE_MAX_CHARS} characters"
                ));
            }
            if story.content.chars().count() > CONTENT_MAX_CHARS {
                return Err(format!(
                    "storybook.story {pk}: the content is longer than {CONTENT_MAX_CHARS} characters"
                ));
            }
            let created_at = story
                .created_at
                .as_deref()
                .map(parse_timestamp)
                .transpose()
                .map_err(|error| format!("storybook.story {pk}: {error}"))?;
            Ok(Record::Story(StoryRow {
                django_id: pk,
                author: story.author,
                title,
                content: story.content,
                published: story.is_published,
                created_at,
            }))
        }
        _ => Ok(Record::Other),
    }
}

/// Django writes RFC 3339 with USE_TZ, a naive time (taken as UTC) without.
fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").map(|time| time.and_utc())
        })
        .map_err(|_| format!("created_at {text:?} is not a timestamp"))
}

/// Streams the top-level array, sending each parsed record (or the first error).
struct RecordStream<'a>(&'a mpsc::Sender<Result<Record, String>>);

impl<'de> DeserializeSeed<'de> for RecordStream<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordStream<'_> {
    type Value = ();
    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON array of dumpdata objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(object) = seq.next_element::<DumpObject>()? {
            let record = parse_record(object).map_err(serde::de::Error::custom)?;
            if self.0.blocking_send(Ok(record)).is_err() {
                return Ok(()); // The importer stopped; it reports why.
            }
        }
        Ok(())
    }
}

fn stream_dump(file: File, sender: mpsc::Sender<Result<Record, String>>) {
    let mut deserializer = serde_json::Deserializer::from_reader(BufReader::new(file));
    let result = RecordStream(&sender)
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
    if let Err(error) = result {
        let _ = sender.blocking_send(Err(error.to_string()));
    }
}

pub async fn import(
    connection: &mut AsyncPgConnection,
    path: &Path,
) -> Result<ImportReport, ImportError> {
    let file = File::open(path).map_err(|source| ImportError::Open {
        path: path.display().to_string(),
        source,
    })?;
    let (sender, mut receiver) = mpsc::channel(BATCH * 2);
    let reader = tokio::task::spawn_blocking(move || stream_dump(file, sender));
    let result = connection
        .transaction(async |connection| {
            diesel::sql_query(
                "CREATE TEMPORARY TABLE import_stories (django_id BIGINT PRIMARY KEY, author BIGINT NOT NULL, \
                 title TEXT NOT NULL, content TEXT NOT NULL, published BOOLEAN NOT NULL, created_at TIMESTAMPTZ) ON COMMIT DROP",
            )
            .execute(connection)
            .await?;
            let mut report = ImportReport::default();
            let mut users = Vec::new();
            let mut stories = Vec::new();
            while let Some(record) = receiver.recv().await {
                match record.map_err(ImportError::Malformed)? {
                    Record::User(user) => users.push(user),
                    Record::Story(story) => stories.push(story),
                    Record::Other => report.other_records_ignored += 1,
                }
                if users.len() >= BATCH {
                    insert_users(connection, &mut users, &mut report).await?;
                }
                if stories.len() >= BATCH {
                    stage_stories(connection, &mut stories).await?;
                }
            }
            insert_users(connection, &mut users, &mut report).await?;
            stage_stories(connection, &mut stories).await?;
            insert_stories(connection, &mut report).await?;
            Ok::<_, ImportError>(report)
        })
        .await;
    drop(receiver);
    let _ = reader.await;
    result
}

async fn insert_users(
    connection: &mut AsyncPgConnection,
    users: &mut Vec<UserRow>,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    for user in users.drain(..) {
        let inserted = diesel::sql_query(
            "INSERT INTO users (username, email, password_hash, django_id) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (django_id) DO NOTHING",
        )
        .bind::<Text, _>(&user.username)
        .bind::<Text, _>(&user.email)
        .bind::<Text, _>(&user.password_hash)
        .bind::<BigInt, _>(user.django_id)
        .execute(connection)
        .await
        .map_err(|error| match &error {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => ImportError::Invalid(format!(
                "auth.user {}: the username {} or email {} already belongs to another storyxp user",
                user.django_id, user.username, user.email
            )),
            _ => ImportError::Database(error),
        })?;
        if inserted == 1 {
            report.users_imported += 1;
        } else {
            report.users_skipped += 1;
        }
    }
    Ok(())
}

async fn stage_stories(
    connection: &mut AsyncPgConnection,
    stories: &mut Vec<StoryRow>,
) -> Result<(), ImportError> {
    for story in stories.drain(..) {
        diesel::sql_query(
            "INSERT INTO import_stories VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (django_id) DO NOTHING",
        )
        .bind::<BigInt, _>(story.django_id)
        .bind::<BigInt, _>(story.author)
        .bind::<Text, _>(&story.title)
        .bind::<Text, _>(&story.content)
        .bind::<Bool, _>(story.published)
        .bind::<Nullable<Timestamptz>, _>(story.created_at)
        .execute(connection)
        .await?;
    }
    Ok(())
}

/// Stories go in last, so their authors may appear anywhere in the dump.
async fn insert_stories(
    connection: &mut AsyncPgConnection,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    #[derive(diesel::QueryableByName)]
    struct Orphan {
        #[diesel(sql_type = BigInt)]
        django_id: i64,
        #[diesel(sql_type = BigInt)]
        author: i64,
    }
    let orphan: Option<Orphan> = diesel::sql_query(
        "SELECT s.django_id, s.author FROM import_stories s LEFT JOIN users u ON u.django_id = s.author \
         WHERE u.id IS NULL ORDER BY s.django_id LIMIT 1",
    )
    .get_result(connection)
    .await
    .map(Some)
    .or_else(|error| if error == diesel::result::Error::NotFound { Ok(None) } else { Err(error) })?;
    if let Some(orphan) = orphan {
        return Err(ImportError::Invalid(format!(
            "storybook.story {}: its author (auth.user {}) is neither in the dump nor imported before",
            orphan.django_id, orphan.author
        )));
    }
    let staged: u64 = count(connection, "SELECT count(*) AS count FROM import_stories").await?;
    let imported = diesel::sql_query(
        "INSERT INTO stories (author_id, title, content, published, created_at, django_id) \
         SELECT u.id, s.title, s.content, s.published, coalesce(s.created_at, now()), s.django_id \
         FROM import_stories s JOIN users u ON u.django_id = s.author ORDER BY s.django_id \
         ON CONFLICT (django_id) DO NOTHING",
    )
    .execute(connection)
    .await? as u64;
    report.stories_imported = imported;
    report.stories_skipped = staged - imported;
    Ok(())
}

async fn count(connection: &mut AsyncPgConnection, query: &str) -> Result<u64, ImportError> {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    let row: Count = diesel::sql_query(query).get_result(connection).await?;
    Ok(row.count.max(0) as u64)
}
