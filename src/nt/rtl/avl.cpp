// Generic AVL tables (RtlXxxGenericTableAvl): a height-balanced binary search tree whose nodes
// are allocated by the caller's routine, with the caller's data just past the node header.
//
// Nodes never move or get copied once inserted (deletion relinks the in-order successor into
// the deleted node's place), so a pointer to an element's data stays valid until that element
// is deleted, as on Windows.
#include <cstring>

#include <wdm.h>

namespace uwsk::nt {
namespace {

using Node = RTL_BALANCED_LINKS;

// The caller's data starts right after the node header (32 bytes on x64, as Windows lays it).
constexpr size_t data_offset = sizeof(RTL_BALANCED_LINKS);

PVOID data_of(Node *node) {
  return node != nullptr ? reinterpret_cast<char *>(node) + data_offset : nullptr;
}

Node *sentinel(PRTL_AVL_TABLE table) {
  return &table->BalancedRoot;
}
Node *root(PRTL_AVL_TABLE table) {
  return table->BalancedRoot.RightChild;
}

Node *leftmost(Node *n) {
  while (n != nullptr && n->LeftChild != nullptr) {
    n = n->LeftChild;
  }
  return n;
}

Node *rightmost(Node *n) {
  while (n != nullptr && n->RightChild != nullptr) {
    n = n->RightChild;
  }
  return n;
}

Node *successor(PRTL_AVL_TABLE table, Node *n) {
  if (n->RightChild != nullptr) {
    return leftmost(n->RightChild);
  }
  Node *p = n->Parent;
  while (p != sentinel(table) && n == p->RightChild) {
    n = p;
    p = p->Parent;
  }
  return p == sentinel(table) ? nullptr : p;
}

Node *predecessor(PRTL_AVL_TABLE table, Node *n) {
  if (n->LeftChild != nullptr) {
    return rightmost(n->LeftChild);
  }
  Node *p = n->Parent;
  while (p != sentinel(table) && n == p->LeftChild) {
    n = p;
    p = p->Parent;
  }
  return p == sentinel(table) ? nullptr : p;
}

// Makes `replacement` the child of `parent` where `old` was. The sentinel keeps the root as its
// right child and has no left child, so it needs no special case.
void replace_child(Node *parent, Node *old, Node *replacement) {
  if (parent->LeftChild == old) {
    parent->LeftChild = replacement;
  } else {
    parent->RightChild = replacement;
  }
}

void rotate_left(Node *x) {
  Node *y = x->RightChild;
  x->RightChild = y->LeftChild;
  if (y->LeftChild != nullptr) {
    y->LeftChild->Parent = x;
  }
  y->Parent = x->Parent;
  replace_child(x->Parent, x, y);
  y->LeftChild = x;
  x->Parent = y;
}

void rotate_right(Node *x) {
  Node *y = x->LeftChild;
  x->LeftChild = y->RightChild;
  if (y->RightChild != nullptr) {
    y->RightChild->Parent = x;
  }
  y->Parent = x->Parent;
  replace_child(x->Parent, x, y);
  y->RightChild = x;
  x->Parent = y;
}

// Restores balance at `n` (balance +-2); returns the new root of that subtree.
Node *rebalance(Node *n) {
  if (n->Balance == 2) {
    Node *r = n->RightChild;
    if (r->Balance >= 0) {
      rotate_left(n);
      if (r->Balance == 0) {
        n->Balance = 1;
        r->Balance = -1;
      } else {
        n->Balance = 0;
        r->Balance = 0;
      }
      return r;
    }
    Node *c = r->LeftChild;
    rotate_right(r);
    rotate_left(n);
    n->Balance = c->Balance == 1 ? -1 : 0;
    r->Balance = c->Balance == -1 ? 1 : 0;
    c->Balance = 0;
    return c;
  }
  Node *l = n->LeftChild;
  if (l->Balance <= 0) {
    rotate_right(n);
    if (l->Balance == 0) {
      n->Balance = -1;
      l->Balance = 1;
    } else {
      n->Balance = 0;
      l->Balance = 0;
    }
    return l;
  }
  Node *c = l->RightChild;
  rotate_left(l);
  rotate_right(n);
  n->Balance = c->Balance == -1 ? 1 : 0;
  l->Balance = c->Balance == 1 ? -1 : 0;
  c->Balance = 0;
  return c;
}

void update_depth(PRTL_AVL_TABLE table) {
  ULONG depth = 0;
  for (Node *n = root(table); n != nullptr; n = n->Balance < 0 ? n->LeftChild : n->RightChild) {
    ++depth;
  }
  table->DepthOfTree = depth;
}

// The subtree under `node` grew by one level; walk up adjusting balances.
void after_insert(PRTL_AVL_TABLE table, Node *node) {
  Node *parent = node->Parent;
  while (parent != sentinel(table)) {
    parent->Balance = static_cast<CHAR>(parent->Balance + (node == parent->LeftChild ? -1 : 1));
    if (parent->Balance == 0) {
      return;
    }
    if (parent->Balance == 2 || parent->Balance == -2) {
      rebalance(parent);
      return; // after an insertion one (double) rotation restores the old height
    }
    node = parent;
    parent = parent->Parent;
  }
}

// The subtree on one side of `parent` lost one level; walk up adjusting balances.
void after_delete(PRTL_AVL_TABLE table, Node *parent, bool left_shrunk) {
  while (parent != sentinel(table)) {
    parent->Balance = static_cast<CHAR>(parent->Balance + (left_shrunk ? 1 : -1));
    Node *subtree = parent;
    if (parent->Balance == 1 || parent->Balance == -1) {
      return; // the height of this subtree did not change
    }
    if (parent->Balance == 2 || parent->Balance == -2) {
      subtree = rebalance(parent);
      if (subtree->Balance != 0) {
        return; // the rotation kept the height
      }
    }
    Node *up = subtree->Parent;
    left_shrunk = up->LeftChild == subtree;
    parent = up;
  }
}

// Finds `buffer`: the node (TableFoundNode) or the parent to insert under.
TABLE_SEARCH_RESULT find(PRTL_AVL_TABLE table, PVOID buffer, Node **node_or_parent) {
  Node *n = root(table);
  if (n == nullptr) {
    *node_or_parent = nullptr;
    return TableEmptyTree;
  }
  for (;;) {
    RTL_GENERIC_COMPARE_RESULTS r = table->CompareRoutine(table, buffer, data_of(n));
    if (r == GenericLessThan) {
      if (n->LeftChild == nullptr) {
        *node_or_parent = n;
        return TableInsertAsLeft;
      }
      n = n->LeftChild;
    } else if (r == GenericGreaterThan) {
      if (n->RightChild == nullptr) {
        *node_or_parent = n;
        return TableInsertAsRight;
      }
      n = n->RightChild;
    } else {
      *node_or_parent = n;
      return TableFoundNode;
    }
  }
}

PVOID insert_at(PRTL_AVL_TABLE table, PVOID buffer, CLONG buffer_size, PBOOLEAN new_element,
                Node *node_or_parent, TABLE_SEARCH_RESULT where) {
  if (where == TableFoundNode) {
    if (new_element != nullptr) {
      *new_element = FALSE;
    }
    return data_of(node_or_parent);
  }
  auto *node = static_cast<Node *>(
      table->AllocateRoutine(table, static_cast<CLONG>(data_offset + buffer_size)));
  if (node == nullptr) {
    if (new_element != nullptr) {
      *new_element = FALSE;
    }
    return nullptr;
  }
  std::memset(node, 0, data_offset);
  if (buffer_size != 0) {
    std::memcpy(data_of(node), buffer, buffer_size);
  }
  if (where == TableEmptyTree) {
    node->Parent = sentinel(table);
    table->BalancedRoot.RightChild = node;
  } else {
    node->Parent = node_or_parent;
    if (where == TableInsertAsLeft) {
      node_or_parent->LeftChild = node;
    } else {
      node_or_parent->RightChild = node;
    }
    after_insert(table, node);
  }
  table->NumberGenericTableElements++;
  table->WhichOrderedElement = 0;
  table->OrderedPointer = nullptr;
  update_depth(table);
  if (new_element != nullptr) {
    *new_element = TRUE;
  }
  return data_of(node);
}

void delete_node(PRTL_AVL_TABLE table, Node *node) {
  // Enumeration with Restart == FALSE continues after the element before this one.
  if (table->RestartKey == node) {
    table->RestartKey = predecessor(table, node);
  }
  if (node->LeftChild != nullptr && node->RightChild != nullptr) {
    Node *s = leftmost(node->RightChild);
    Node *rebalance_from;
    bool left_shrunk;
    if (s->Parent == node) {
      rebalance_from = s;
      left_shrunk = false;
    } else {
      rebalance_from = s->Parent;
      left_shrunk = true;
      s->Parent->LeftChild = s->RightChild;
      if (s->RightChild != nullptr) {
        s->RightChild->Parent = s->Parent;
      }
      s->RightChild = node->RightChild;
      s->RightChild->Parent = s;
    }
    s->LeftChild = node->LeftChild;
    s->LeftChild->Parent = s;
    s->Parent = node->Parent;
    s->Balance = node->Balance;
    replace_child(node->Parent, node, s);
    after_delete(table, rebalance_from, left_shrunk);
  } else {
    Node *child = node->LeftChild != nullptr ? node->LeftChild : node->RightChild;
    Node *parent = node->Parent;
    bool left = parent->LeftChild == node;
    replace_child(parent, node, child);
    if (child != nullptr) {
      child->Parent = parent;
    }
    after_delete(table, parent, left);
  }
  table->NumberGenericTableElements--;
  table->DeleteCount++;
  table->WhichOrderedElement = 0;
  table->OrderedPointer = nullptr;
  update_depth(table);
  table->FreeRoutine(table, node);
}

} // namespace
} // namespace uwsk::nt

using namespace uwsk::nt;

// RtlInitializeGenericTableAvl: prepares an empty table with the caller's routines.
extern "C" VOID NTAPI RtlInitializeGenericTableAvl(PRTL_AVL_TABLE Table,
                                                   PRTL_AVL_COMPARE_ROUTINE CompareRoutine,
                                                   PRTL_AVL_ALLOCATE_ROUTINE AllocateRoutine,
                                                   PRTL_AVL_FREE_ROUTINE FreeRoutine,
                                                   PVOID TableContext) {
  std::memset(Table, 0, sizeof(*Table));
  Table->BalancedRoot.Parent = &Table->BalancedRoot;
  Table->CompareRoutine = CompareRoutine;
  Table->AllocateRoutine = AllocateRoutine;
  Table->FreeRoutine = FreeRoutine;
  Table->TableContext = TableContext;
}

// RtlInsertElementGenericTableAvl: inserts a copy of Buffer unless an equal element exists;
// returns the element's data (the existing one when *NewElement is FALSE) or NULL.
extern "C" PVOID NTAPI RtlInsertElementGenericTableAvl(PRTL_AVL_TABLE Table, PVOID Buffer,
                                                       CLONG BufferSize, PBOOLEAN NewElement) {
  Node *node_or_parent;
  TABLE_SEARCH_RESULT where = find(Table, Buffer, &node_or_parent);
  return insert_at(Table, Buffer, BufferSize, NewElement, node_or_parent, where);
}

// RtlInsertElementGenericTableFullAvl: inserts at the place a Full lookup found.
extern "C" PVOID NTAPI RtlInsertElementGenericTableFullAvl(PRTL_AVL_TABLE Table, PVOID Buffer,
                                                           CLONG BufferSize, PBOOLEAN NewElement,
                                                           PVOID NodeOrParent,
                                                           TABLE_SEARCH_RESULT SearchResult) {
  return insert_at(Table, Buffer, BufferSize, NewElement, static_cast<Node *>(NodeOrParent),
                   SearchResult);
}

// RtlDeleteElementGenericTableAvl: removes the element equal to Buffer and frees its node.
extern "C" BOOLEAN NTAPI RtlDeleteElementGenericTableAvl(PRTL_AVL_TABLE Table, PVOID Buffer) {
  Node *node;
  if (find(Table, Buffer, &node) != TableFoundNode) {
    return FALSE;
  }
  delete_node(Table, node);
  return TRUE;
}

// RtlDeleteElementGenericTableAvlEx: removes the node a Full lookup found.
extern "C" VOID NTAPI RtlDeleteElementGenericTableAvlEx(PRTL_AVL_TABLE Table, PVOID NodeOrParent) {
  delete_node(Table, static_cast<Node *>(NodeOrParent));
}

// RtlLookupElementGenericTableAvl: the data of the element equal to Buffer, or NULL.
extern "C" PVOID NTAPI RtlLookupElementGenericTableAvl(PRTL_AVL_TABLE Table, PVOID Buffer) {
  Node *node;
  return find(Table, Buffer, &node) == TableFoundNode ? data_of(node) : nullptr;
}

// RtlLookupElementGenericTableFullAvl: lookup that also reports where Buffer would go.
extern "C" PVOID NTAPI RtlLookupElementGenericTableFullAvl(PRTL_AVL_TABLE Table, PVOID Buffer,
                                                           PVOID *NodeOrParent,
                                                           TABLE_SEARCH_RESULT *SearchResult) {
  Node *node;
  TABLE_SEARCH_RESULT r = find(Table, Buffer, &node);
  *NodeOrParent = node;
  *SearchResult = r;
  return r == TableFoundNode ? data_of(node) : nullptr;
}

// RtlLookupFirstMatchingElementGenericTableAvl: the first element (in order) that compares
// equal to Buffer; *RestartKey is set for RtlEnumerateGenericTableWithoutSplayingAvl.
extern "C" PVOID NTAPI RtlLookupFirstMatchingElementGenericTableAvl(PRTL_AVL_TABLE Table,
                                                                    PVOID Buffer,
                                                                    PVOID *RestartKey) {
  Node *match = nullptr;
  for (Node *n = root(Table); n != nullptr;) {
    RTL_GENERIC_COMPARE_RESULTS r = Table->CompareRoutine(Table, Buffer, data_of(n));
    if (r == GenericEqual) {
      match = n;
      n = n->LeftChild;
    } else {
      n = r == GenericLessThan ? n->LeftChild : n->RightChild;
    }
  }
  *RestartKey = match;
  return data_of(match);
}

// RtlEnumerateGenericTableAvl: the first element (Restart) or the one after the last returned.
extern "C" PVOID NTAPI RtlEnumerateGenericTableAvl(PRTL_AVL_TABLE Table, BOOLEAN Restart) {
  Node *next = Restart || Table->RestartKey == nullptr ? leftmost(root(Table))
                                                       : successor(Table, Table->RestartKey);
  Table->RestartKey = next;
  return data_of(next);
}

// RtlEnumerateGenericTableWithoutSplayingAvl: enumeration with a caller-held cursor.
extern "C" PVOID NTAPI RtlEnumerateGenericTableWithoutSplayingAvl(PRTL_AVL_TABLE Table,
                                                                  PVOID *RestartKey) {
  Node *next = *RestartKey == nullptr ? leftmost(root(Table))
                                      : successor(Table, static_cast<Node *>(*RestartKey));
  *RestartKey = next;
  return data_of(next);
}

// RtlGetElementGenericTableAvl: the I-th element in order (0-based), or NULL. The last answer
// is cached, so walking I = 0, 1, 2, ... costs one step each.
extern "C" PVOID NTAPI RtlGetElementGenericTableAvl(PRTL_AVL_TABLE Table, ULONG I) {
  ULONG count = Table->NumberGenericTableElements;
  if (I >= count) {
    return nullptr;
  }
  ULONG target = I + 1; // 1-based, as WhichOrderedElement
  Node *n;
  ULONG at;
  ULONG from_first = target - 1;
  ULONG from_last = count - target;
  ULONG cached = Table->WhichOrderedElement;
  ULONG from_cache = cached == 0 ? MAXULONG : (cached > target ? cached - target : target - cached);
  if (from_cache <= from_first && from_cache <= from_last) {
    n = static_cast<Node *>(Table->OrderedPointer);
    at = cached;
  } else if (from_first <= from_last) {
    n = leftmost(root(Table));
    at = 1;
  } else {
    n = rightmost(root(Table));
    at = count;
  }
  while (at < target) {
    n = successor(Table, n);
    ++at;
  }
  while (at > target) {
    n = predecessor(Table, n);
    --at;
  }
  Table->OrderedPointer = n;
  Table->WhichOrderedElement = target;
  return data_of(n);
}

// RtlNumberGenericTableElementsAvl: the number of elements.
extern "C" ULONG NTAPI RtlNumberGenericTableElementsAvl(PRTL_AVL_TABLE Table) {
  return Table->NumberGenericTableElements;
}

// RtlIsGenericTableEmptyAvl: TRUE when the table holds no element.
extern "C" BOOLEAN NTAPI RtlIsGenericTableEmptyAvl(PRTL_AVL_TABLE Table) {
  return Table->BalancedRoot.RightChild == nullptr ? TRUE : FALSE;
}
