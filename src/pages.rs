//! Walking every page of a listing.

use crate::error::Result;
use crate::list::{ListRequest, Page};
use crate::store::OrgStore;

/// Every page of a listing, in order, from [`OrgStore::pages`]. Each page is read from its own
/// snapshot, so over the whole walk an organization that exists from the first page to the
/// last appears exactly once, whatever is written meanwhile. The iterator ends after the last
/// page, or after the first error (which it yields).
///
/// # Examples
///
/// ```
/// use orgstore::{ListRequest, NewOrganization, OrgStore};
///
/// let store = OrgStore::in_memory()?;
/// for i in 0..25 {
///     store.create(NewOrganization::new(format!("Org {i}")))?;
/// }
/// let mut seen = 0;
/// for page in store.pages(ListRequest::new().page_size(10)) {
///     seen += page?.organizations.len();
/// }
/// assert_eq!(seen, 25);
/// # Ok::<(), orgstore::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "an iterator does nothing until it is used"]
pub struct Pages {
    store: OrgStore,
    /// The request of the next page; `None` once the last page (or an error) was yielded.
    next: Option<ListRequest>,
}

impl Pages {
    pub(crate) fn new(store: OrgStore, request: ListRequest) -> Pages {
        Pages {
            store,
            next: Some(request),
        }
    }

    /// The organizations of every page, one by one.
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{ListRequest, NewOrganization, OrgStore, Order};
    ///
    /// let store = OrgStore::in_memory()?;
    /// for name in ["a", "b", "c"] {
    ///     store.create(NewOrganization::new(name))?;
    /// }
    /// let request = ListRequest::new().page_size(2).order(Order::OldestFirst);
    /// let names = store
    ///     .pages(request)
    ///     .organizations()
    ///     .map(|org| org.map(|o| o.display_name))
    ///     .collect::<orgstore::Result<Vec<_>>>()?;
    /// assert_eq!(names, ["a", "b", "c"]);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn organizations(self) -> impl Iterator<Item = Result<crate::Organization>> {
        self.flat_map(|page| {
            let (orgs, err) = match page {
                Ok(p) => (p.organizations, None),
                Err(e) => (Vec::new(), Some(Err(e))),
            };
            orgs.into_iter().map(Ok).chain(err)
        })
    }
}

impl Iterator for Pages {
    type Item = Result<Page>;

    fn next(&mut self) -> Option<Result<Page>> {
        let request = self.next.take()?;
        let page = self.store.list(&request);
        if let Ok(p) = &page {
            if !p.next_page_token.is_empty() {
                self.next = Some(request.page_token(p.next_page_token.clone()));
            }
        }
        Some(page)
    }
}
