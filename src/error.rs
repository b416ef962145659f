//! The domain's one error type and its single mapping to GraphQL `extensions.code`.

use async_graphql::ErrorExtensions;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadUserInput(String),
    /// BAD_USER_INPUT with a machine-readable `extensions.reason` (a purchase refused:
    /// INSUFFICIENT_XP, LEVEL_TOO_LOW, ALREADY_OWNED, LIMIT_REACHED).
    #[error("{message}")]
    Refused {
        reason: &'static str,
        message: String,
    },
    #[error("{}", throttled_message(*scope, *retry_after_seconds))]
    Throttled {
        scope: ThrottleScope,
        retry_after_seconds: u64,
    },
    #[error("database error: {0}")]
    Database(diesel::result::Error),
    #[error("database unavailable: {0}")]
    Pool(#[from] diesel_async::pooled_connection::deadpool::PoolError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// What a throttle counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleScope {
    /// Attempts from one client address.
    Address,
    /// Failed passwords for one login (known or not: the message is the same).
    Account,
}

fn throttled_message(scope: ThrottleScope, retry_after_seconds: u64) -> String {
    match scope {
        ThrottleScope::Address => format!(
            "too many attempts from your address; try again in {retry_after_seconds} seconds"
        ),
        ThrottleScope::Account => format!(
            "too many failed attempts for this account; try again in {retry_after_seconds} seconds"
        ),
    }
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated(_) => "UNAUTHENTICATED",
            AppError::Forbidden(_) | AppError::Throttled { .. } => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::BadUserInput(_) | AppError::Refused { .. } => "BAD_USER_INPUT",
            AppError::Database(_) | AppError::Pool(_) | AppError::Internal(_) => {
                "INTERNAL_SERVER_ERROR"
            }
        }
    }

    pub fn not_found(what: &str) -> Self {
        AppError::NotFound(format!("{what} not found"))
    }

    pub fn sign_in_required() -> Self {
        AppError::Unauthenticated("you must be signed in to do this".into())
    }
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        let message = match self {
            AppError::Database(_) | AppError::Pool(_) | AppError::Internal(_) => {
                tracing::error!(error = %self, "request failed");
                "internal server error".to_string()
            }
            other => other.to_string(),
        };
        async_graphql::Error::new(message).extend_with(|_, extensions| {
            extensions.set("code", self.code());
            if let AppError::Refused { reason, .. } = self {
                extensions.set("reason", *reason);
            }
            if let AppError::Throttled {
                scope,
                retry_after_seconds,
            } = self
            {
                extensions.set("reason", "TOO_MANY_ATTEMPTS");
                extensions.set(
                    "throttledBy",
                    match scope {
                        ThrottleScope::Address => "ADDRESS",
                        ThrottleScope::Account => "ACCOUNT",
                    },
                );
                extensions.set("retryAfterSeconds", *retry_after_seconds);
            }
        })
    }
}

/// The errors async-graphql makes itself (a document that does not parse or validate,
/// variables that do not fit, an unknown persisted query) carry no code; they are the
/// caller's: BAD_USER_INPUT, so that every error has an `extensions.code`.
pub fn code_uncoded_errors(errors: &mut [async_graphql::ServerError]) {
    for error in errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", "BAD_USER_INPUT");
        }
    }
}

impl From<diesel::result::Error> for AppError {
    /// PostgreSQL's text cannot hold NUL (U+0000): a text that has one is the caller's
    /// mistake (BAD_USER_INPUT; the statement wrote nothing), not a server error.
    fn from(error: diesel::result::Error) -> Self {
        if let diesel::result::Error::DatabaseError(_, information) = &error {
            let message = information.message();
            if message.starts_with("invalid byte sequence for encoding")
                && message.ends_with("0x00")
            {
                return AppError::BadUserInput(
                    "text may not contain the NUL character (U+0000)".into(),
                );
            }
        }
        AppError::Database(error)
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(error: AppError) -> Self {
        error.extend()
    }
}
