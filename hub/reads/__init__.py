"""Compiled reads: a page or a record, with the to-one records it names, in one statement.

ADR 0018. A validated GraphQL document whose selection is fields and to-one relations of the
core types is planned once (`schema.compiled`) into a `Shape` per type; here that shape becomes
one SQL statement that takes the page from the tenant's index (or the partner's share index)
first and builds each node's JSON in PostgreSQL, with what never crosses to a partner already
null. No ORM instance is made; the access layer still decides what is visible (the same
`Listing` and `select_visible` the resolvers use) and notes every record that crosses.
"""

from hub.reads.run import ReadPage, read_one, read_page
from hub.reads.shape import Leaf, Related, Shape, TypeName

__all__ = ["Leaf", "ReadPage", "Related", "Shape", "TypeName", "read_one", "read_page"]
