//! Pages of a listing with OpenAI's semantics, over items held in insertion order.

use super::{ListQuery, Order, Page};

/// Selects a page of `items` (in insertion order) by `query`, finding cursor ids with
/// `index`. Unknown cursors are ignored, as OpenAI does.
pub(crate) fn page<T: Clone>(
    items: &[T],
    index: impl Fn(&str) -> Option<usize>,
    query: &ListQuery,
) -> Page<T> {
    let len = items.len();
    let limit = query.limit.max(1);
    let after = query.after.as_deref().and_then(&index);
    let before = query.before.as_deref().and_then(&index);
    match query.order {
        Order::Asc => {
            let lo = after.map_or(0, |i| i + 1);
            let hi = before.unwrap_or(len).min(len);
            if lo >= hi {
                return Page::new(Vec::new(), false);
            }
            let take = limit.min(hi - lo);
            Page::new(items[lo..lo + take].to_vec(), hi - lo > take)
        }
        Order::Desc => {
            // Newest first: `after` = older than the cursor, `before` = newer than it.
            let hi = after.unwrap_or(len).min(len);
            let lo = before.map_or(0, |i| i + 1);
            if lo >= hi {
                return Page::new(Vec::new(), false);
            }
            let take = limit.min(hi - lo);
            Page::new(
                items[hi - take..hi].iter().rev().cloned().collect(),
                hi - lo > take,
            )
        }
    }
}

/// A page of a listing of which only the newest `items` are held (a suffix of all the items),
/// or `None` when the answer depends on older items that are not: a cursor id not held, or a
/// page (with the one more item that decides `has_more`) reaching past the oldest one held.
/// With `complete` (every item is held) this is [`page`].
// Only the SQLite store keeps a suffix of a thread in memory.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) fn suffix_page<T: Clone>(
    items: &[T],
    complete: bool,
    index: impl Fn(&str) -> Option<usize>,
    query: &ListQuery,
) -> Option<Page<T>> {
    if complete {
        return Some(page(items, index, query));
    }
    // An id that is not held may be an older item: its position is unknown.
    let find = |id: &Option<String>| match id {
        Some(id) => index(id).map(Some),
        None => Some(None),
    };
    let after = find(&query.after)?;
    let before = find(&query.before)?;
    let limit = query.limit.max(1);
    let bounded = match query.order {
        // Oldest first starts at the oldest item, unless after a held one.
        Order::Asc => after.is_some(),
        // Newest first ends `limit` items below its top; one more held item settles `has_more`.
        Order::Desc => before.is_some() || after.unwrap_or(items.len()) > limit,
    };
    bounded.then(|| page(items, index, query))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thread::{Content, Message, Role};

    fn msg(thread: &str, text: &str) -> Message {
        Message::new(thread, Role::User, vec![Content::text(text)])
    }

    #[test]
    fn pagination_both_orders() {
        let items: Vec<Message> = (0..5).map(|i| msg("t", &i.to_string())).collect();
        let ids: Vec<String> = items.iter().map(|m| m.id.clone()).collect();
        let q = ListQuery::new(2, Order::Asc);
        let p = page(&items, |id| items.iter().position(|m| m.id == id), &q);
        assert_eq!(
            p.data.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
            ids[..2]
        );
        assert!(p.has_more);
        let p = page(
            &items,
            |id| items.iter().position(|m| m.id == id),
            &ListQuery::new(2, Order::Asc).after(ids[1].clone()),
        );
        assert_eq!(p.data[0].id, ids[2]);
        let p = page(
            &items,
            |id| items.iter().position(|m| m.id == id),
            &ListQuery::new(10, Order::Desc).after(ids[3].clone()),
        );
        assert_eq!(
            p.data.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
            vec![ids[2].clone(), ids[1].clone(), ids[0].clone()]
        );
        assert!(!p.has_more);
        let p = page(
            &items,
            |id| items.iter().position(|m| m.id == id),
            &ListQuery::new(10, Order::Asc).before(ids[2].clone()),
        );
        assert_eq!(p.data.len(), 2);
        let p = page(
            &items,
            |id| items.iter().position(|m| m.id == id),
            &ListQuery::new(10, Order::Desc).before(ids[2].clone()),
        );
        assert_eq!(
            p.data.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
            vec![ids[4].clone(), ids[3].clone()]
        );
    }

    #[test]
    fn a_suffix_answers_only_what_it_decides() {
        let all: Vec<u32> = (0..10).collect();
        let held = &all[6..];
        let index_all = |id: &str| all.iter().position(|i| i.to_string() == id);
        let index_held = |id: &str| held.iter().position(|i| i.to_string() == id);
        let queries = [
            ListQuery::new(2, Order::Desc),
            ListQuery::new(3, Order::Desc),
            ListQuery::new(4, Order::Desc),
            ListQuery::new(2, Order::Asc),
            ListQuery::new(2, Order::Asc).after("6"),
            ListQuery::new(9, Order::Asc).after("7"),
            ListQuery::new(9, Order::Asc).after("3"),
            ListQuery::new(1, Order::Desc).after("9"),
            ListQuery::new(3, Order::Desc).after("9"),
            ListQuery::new(9, Order::Desc).before("7"),
            ListQuery::new(9, Order::Desc).before("2"),
            ListQuery::new(9, Order::Desc).after("9").before("6"),
        ];
        let mut answered = 0;
        for q in &queries {
            let whole = page(&all, index_all, q);
            match suffix_page(held, false, index_held, q) {
                Some(p) => {
                    answered += 1;
                    assert_eq!(p, whole, "{q:?}");
                }
                // Undecidable from the suffix: the answer reaches the items not held.
                None => assert!(
                    whole.data.first().is_some_and(|i| *i < 6)
                        || whole.data.last().is_some_and(|i| *i < 6)
                        || q.after
                            .as_deref()
                            .or(q.before.as_deref())
                            .is_some_and(|id| id < "6")
                        || whole.has_more
                            && !whole.data.is_empty()
                            && matches!(q.order, Order::Desc),
                    "{q:?} could be answered: {whole:?}"
                ),
            }
        }
        assert_eq!(answered, 7);
        // Complete: the same as `page`.
        for q in &queries {
            assert_eq!(
                suffix_page(&all, true, index_all, q),
                Some(page(&all, index_all, q))
            );
        }
    }
}
