//! One page of a list the engine answers (ListStateMachines, ListExecutions, ...): the items
//! and the cursor of the next page. The cursor is the last item's key; the server makes it an
//! opaque `nextToken`.

/// A page of `T`, in list order, and the key to read on from when more follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` rows read after the cursor: the extra row only says
    /// that more follow.
    pub fn of_rows(mut rows: Vec<T>, limit: usize, key: impl Fn(&T) -> String) -> Page<T> {
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more { rows.last().map(&key) } else { None };
        Page { items: rows, next }
    }

    /// One page of `items` (the whole list, in order) after the item whose key is `after`.
    pub fn of_all(items: Vec<T>, key: impl Fn(&T) -> String, after: Option<&str>, limit: usize) -> Page<T> {
        let start = match after {
            Some(cursor) => items.iter().position(|i| key(i) == cursor).map_or(items.len(), |p| p + 1),
            None => 0,
        };
        Page::of_rows(items.into_iter().skip(start).collect(), limit, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_the_cursor() {
        let all: Vec<u32> = (1..=5).collect();
        let first = Page::of_all(all.clone(), u32::to_string, None, 2);
        assert_eq!(first, Page { items: vec![1, 2], next: Some("2".into()) });
        let last = Page::of_all(all.clone(), u32::to_string, Some("4"), 2);
        assert_eq!(last, Page { items: vec![5], next: None });
        assert_eq!(Page::of_rows(vec![1, 2], 2, u32::to_string).next, None);
        assert_eq!(Page::of_rows(vec![1, 2, 3], 2, u32::to_string).next.as_deref(), Some("2"));
    }
}
