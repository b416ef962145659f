//! Relay connections: `first`/`after` arguments and building a page.

use async_graphql::OutputType;
use async_graphql::connection::{Connection, CursorType, Edge, OpaqueCursor};

use crate::error::AppError;

pub const DEFAULT_PAGE_SIZE: i32 = 20;
pub const MAX_PAGE_SIZE: i32 = 100;

/// The complexity of a page of `first` items (the default page when absent), each
/// costing `child`: what the schema's complexity limit counts for paginated fields.
pub fn page_complexity(first: Option<i32>, child: usize) -> usize {
    let items = first.unwrap_or(DEFAULT_PAGE_SIZE).clamp(0, MAX_PAGE_SIZE);
    usize::try_from(items).unwrap_or_default() * child + 1
}

pub type IdCursor = OpaqueCursor<i64>;

/// A validated page request: how many rows, after which id.
pub struct PageRequest {
    pub first: i64,
    pub after: Option<i64>,
}

impl PageRequest {
    pub fn parse(first: Option<i32>, after: Option<String>) -> Result<Self, AppError> {
        let first = first.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(0..=MAX_PAGE_SIZE).contains(&first) {
            return Err(AppError::BadUserInput(format!(
                "`first` must be between 0 and {MAX_PAGE_SIZE}"
            )));
        }
        let after = after
            .map(|cursor| {
                IdCursor::decode_cursor(&cursor)
                    .map(|cursor| cursor.0)
                    .map_err(|_| {
                        AppError::BadUserInput("`after` is not a cursor from this API".into())
                    })
            })
            .transpose()?;
        Ok(Self {
            first: i64::from(first),
            after,
        })
    }

    /// Rows to fetch: one more than asked, to learn whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        self.first + 1
    }

    /// Builds the connection from up to `fetch_limit()` rows, newest first.
    pub fn connection<Row, Node: OutputType>(
        &self,
        mut rows: Vec<Row>,
        id: impl Fn(&Row) -> i64,
        node: impl Fn(Row) -> Node,
    ) -> Connection<IdCursor, Node> {
        let has_next = rows.len() as i64 > self.first;
        rows.truncate(self.first as usize);
        let mut connection = Connection::new(self.after.is_some(), has_next);
        connection.edges.extend(
            rows.into_iter()
                .map(|row| Edge::new(OpaqueCursor(id(&row)), node(row))),
        );
        connection
    }
}

#[cfg(test)]
mod complexity_tests {
    use super::page_complexity;

    #[test]
    fn a_page_costs_its_items_bounded_by_the_largest_page() {
        assert_eq!(page_complexity(None, 3), 20 * 3 + 1);
        assert_eq!(page_complexity(Some(5), 3), 16);
        assert_eq!(page_complexity(Some(10_000), 2), 201);
        assert_eq!(page_complexity(Some(-4), 2), 1);
    }
}
