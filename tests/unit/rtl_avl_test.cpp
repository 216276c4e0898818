// Generic AVL tables: ordering, balance, node layout, enumeration, deletion, lookup forms.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <set>
#include <vector>

#include <wdm.h>

namespace {

struct Entry {
  int key;
  int payload;
};

struct Counters {
  int allocations = 0;
  int frees = 0;
  CLONG last_size = 0;
};

RTL_GENERIC_COMPARE_RESULTS NTAPI compare(PRTL_AVL_TABLE, PVOID first, PVOID second) {
  int a = static_cast<Entry *>(first)->key;
  int b = static_cast<Entry *>(second)->key;
  return a < b ? GenericLessThan : a > b ? GenericGreaterThan : GenericEqual;
}

PVOID NTAPI allocate(PRTL_AVL_TABLE table, CLONG size) {
  auto *c = static_cast<Counters *>(table->TableContext);
  c->allocations++;
  c->last_size = size;
  return std::malloc(size);
}

VOID NTAPI release(PRTL_AVL_TABLE table, PVOID buffer) {
  static_cast<Counters *>(table->TableContext)->frees++;
  std::free(buffer);
}

// Checks ordering, parent links and AVL balance; returns the subtree height.
int check(PRTL_BALANCED_LINKS node, PRTL_BALANCED_LINKS parent) {
  if (node == nullptr) {
    return 0;
  }
  EXPECT_EQ(node->Parent, parent);
  int left = check(node->LeftChild, node);
  int right = check(node->RightChild, node);
  EXPECT_EQ(node->Balance, right - left);
  EXPECT_LE(std::abs(right - left), 1);
  return 1 + std::max(left, right);
}

class AvlTable : public ::testing::Test {
protected:
  void SetUp() override {
    RtlInitializeGenericTableAvl(&table_, compare, allocate, release, &counters_);
  }
  void TearDown() override {
    while (PVOID e = RtlGetElementGenericTableAvl(&table_, 0)) {
      RtlDeleteElementGenericTableAvl(&table_, e);
    }
    EXPECT_EQ(counters_.allocations, counters_.frees);
  }
  Entry *insert(int key, int payload = 0, BOOLEAN *added = nullptr) {
    Entry e{key, payload};
    BOOLEAN local;
    return static_cast<Entry *>(
        RtlInsertElementGenericTableAvl(&table_, &e, sizeof e, added ? added : &local));
  }
  void verify() {
    int height = check(table_.BalancedRoot.RightChild, &table_.BalancedRoot);
    EXPECT_EQ(static_cast<int>(table_.DepthOfTree), height);
  }
  std::vector<int> keys() {
    std::vector<int> out;
    for (PVOID p = RtlEnumerateGenericTableAvl(&table_, TRUE); p != nullptr;
         p = RtlEnumerateGenericTableAvl(&table_, FALSE)) {
      out.push_back(static_cast<Entry *>(p)->key);
    }
    return out;
  }
  RTL_AVL_TABLE table_;
  Counters counters_;
};

TEST_F(AvlTable, EmbeddableAndEmptyAtStart) {
  struct Holder {
    int before;
    RTL_AVL_TABLE table;
    int after;
  } holder{};
  RtlInitializeGenericTableAvl(&holder.table, compare, allocate, release, &counters_);
  EXPECT_TRUE(RtlIsGenericTableEmptyAvl(&holder.table));
  EXPECT_EQ(RtlNumberGenericTableElementsAvl(&holder.table), 0u);
  EXPECT_EQ(RtlEnumerateGenericTableAvl(&holder.table, TRUE), nullptr);
  EXPECT_EQ(holder.table.BalancedRoot.Parent, &holder.table.BalancedRoot);
  EXPECT_EQ(sizeof(RTL_BALANCED_LINKS), 32u);
}

TEST_F(AvlTable, InsertCopiesIntoANodeWithAHeader) {
  BOOLEAN added = FALSE;
  Entry *e = insert(5, 50, &added);
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(added);
  EXPECT_EQ(e->payload, 50);
  EXPECT_EQ(counters_.last_size, sizeof(RTL_BALANCED_LINKS) + sizeof(Entry));
  // The data sits right after the node header the allocator returned.
  EXPECT_EQ(reinterpret_cast<char *>(e) - reinterpret_cast<char *>(table_.BalancedRoot.RightChild),
            static_cast<ptrdiff_t>(sizeof(RTL_BALANCED_LINKS)));
  Entry *again = insert(5, 99, &added);
  EXPECT_FALSE(added);
  EXPECT_EQ(again, e);
  EXPECT_EQ(again->payload, 50);
  EXPECT_EQ(counters_.allocations, 1);
  EXPECT_EQ(RtlNumberGenericTableElementsAvl(&table_), 1u);
  EXPECT_FALSE(RtlIsGenericTableEmptyAvl(&table_));
}

TEST_F(AvlTable, StaysBalancedAndOrderedUnderRandomOperations) {
  std::mt19937 rng(1234);
  std::set<int> model;
  std::vector<Entry *> pointers(2000, nullptr);
  for (int step = 0; step < 4000; ++step) {
    int key = static_cast<int>(rng() % 2000);
    if (rng() % 3 != 0) {
      Entry *e = insert(key, key * 10);
      ASSERT_NE(e, nullptr);
      if (model.insert(key).second) {
        pointers[key] = e;
      } else {
        EXPECT_EQ(e, pointers[key]); // elements never move
      }
    } else {
      Entry probe{key, 0};
      EXPECT_EQ(RtlDeleteElementGenericTableAvl(&table_, &probe), model.erase(key) == 1);
      pointers[key] = nullptr;
    }
    if (step % 500 == 0) {
      verify();
    }
  }
  verify();
  EXPECT_EQ(RtlNumberGenericTableElementsAvl(&table_), model.size());
  EXPECT_EQ(keys(), std::vector<int>(model.begin(), model.end()));
  for (int key : model) {
    Entry probe{key, 0};
    auto *found = static_cast<Entry *>(RtlLookupElementGenericTableAvl(&table_, &probe));
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->payload, key * 10);
    EXPECT_EQ(found, pointers[key]);
  }
  // The height of an AVL tree of n nodes is below 1.45 log2(n + 2).
  EXPECT_LE(table_.DepthOfTree, 16u);
}

TEST_F(AvlTable, GetElementByIndex) {
  for (int k : {50, 10, 40, 20, 30}) {
    insert(k);
  }
  std::vector<int> forward;
  for (ULONG i = 0; i < 5; ++i) {
    forward.push_back(static_cast<Entry *>(RtlGetElementGenericTableAvl(&table_, i))->key);
  }
  EXPECT_EQ(forward, (std::vector<int>{10, 20, 30, 40, 50}));
  EXPECT_EQ(static_cast<Entry *>(RtlGetElementGenericTableAvl(&table_, 3))->key, 40);
  EXPECT_EQ(static_cast<Entry *>(RtlGetElementGenericTableAvl(&table_, 0))->key, 10);
  EXPECT_EQ(static_cast<Entry *>(RtlGetElementGenericTableAvl(&table_, 4))->key, 50);
  EXPECT_EQ(RtlGetElementGenericTableAvl(&table_, 5), nullptr);
  Entry probe{30, 0};
  RtlDeleteElementGenericTableAvl(&table_, &probe);
  EXPECT_EQ(static_cast<Entry *>(RtlGetElementGenericTableAvl(&table_, 2))->key, 40);
}

TEST_F(AvlTable, EnumerationForms) {
  for (int k : {3, 1, 2}) {
    insert(k);
  }
  EXPECT_EQ(keys(), (std::vector<int>{1, 2, 3}));
  PVOID restart = nullptr;
  std::vector<int> seen;
  for (PVOID p = RtlEnumerateGenericTableWithoutSplayingAvl(&table_, &restart); p != nullptr;
       p = RtlEnumerateGenericTableWithoutSplayingAvl(&table_, &restart)) {
    seen.push_back(static_cast<Entry *>(p)->key);
  }
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));
  // Deleting the element just returned keeps RtlEnumerateGenericTableAvl on course.
  std::vector<int> deleted;
  for (PVOID p = RtlEnumerateGenericTableAvl(&table_, TRUE); p != nullptr;
       p = RtlEnumerateGenericTableAvl(&table_, FALSE)) {
    deleted.push_back(static_cast<Entry *>(p)->key);
    ASSERT_TRUE(RtlDeleteElementGenericTableAvl(&table_, p));
  }
  EXPECT_EQ(deleted, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(RtlIsGenericTableEmptyAvl(&table_));
  EXPECT_EQ(table_.DeleteCount, 3u);
}

TEST_F(AvlTable, FullLookupInsertAndDelete) {
  Entry probe{7, 70};
  PVOID node_or_parent = nullptr;
  TABLE_SEARCH_RESULT where;
  EXPECT_EQ(RtlLookupElementGenericTableFullAvl(&table_, &probe, &node_or_parent, &where), nullptr);
  EXPECT_EQ(where, TableEmptyTree);
  BOOLEAN added = FALSE;
  auto *e = static_cast<Entry *>(RtlInsertElementGenericTableFullAvl(
      &table_, &probe, sizeof probe, &added, node_or_parent, where));
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(added);
  Entry smaller{3, 30};
  EXPECT_EQ(RtlLookupElementGenericTableFullAvl(&table_, &smaller, &node_or_parent, &where),
            nullptr);
  EXPECT_EQ(where, TableInsertAsLeft);
  RtlInsertElementGenericTableFullAvl(&table_, &smaller, sizeof smaller, &added, node_or_parent,
                                      where);
  Entry larger{9, 90};
  RtlLookupElementGenericTableFullAvl(&table_, &larger, &node_or_parent, &where);
  EXPECT_EQ(where, TableInsertAsRight);
  EXPECT_EQ(RtlLookupElementGenericTableFullAvl(&table_, &probe, &node_or_parent, &where), e);
  EXPECT_EQ(where, TableFoundNode);
  RtlDeleteElementGenericTableAvlEx(&table_, node_or_parent);
  EXPECT_EQ(RtlLookupElementGenericTableAvl(&table_, &probe), nullptr);
  EXPECT_EQ(RtlNumberGenericTableElementsAvl(&table_), 1u);
  verify();
}

TEST_F(AvlTable, FirstMatchingElement) {
  for (int k : {10, 20, 30}) {
    insert(k);
  }
  Entry probe{20, 0};
  PVOID restart = nullptr;
  auto *e =
      static_cast<Entry *>(RtlLookupFirstMatchingElementGenericTableAvl(&table_, &probe, &restart));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->key, 20);
  auto *next = static_cast<Entry *>(RtlEnumerateGenericTableWithoutSplayingAvl(&table_, &restart));
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(next->key, 30);
  Entry missing{25, 0};
  EXPECT_EQ(RtlLookupFirstMatchingElementGenericTableAvl(&table_, &missing, &restart), nullptr);
}

TEST_F(AvlTable, FailedAllocationInsertsNothing) {
  RTL_AVL_TABLE t;
  RtlInitializeGenericTableAvl(
      &t, compare, [](PRTL_AVL_TABLE, CLONG) -> PVOID { return nullptr; }, release, &counters_);
  Entry e{1, 1};
  BOOLEAN added = TRUE;
  EXPECT_EQ(RtlInsertElementGenericTableAvl(&t, &e, sizeof e, &added), nullptr);
  EXPECT_FALSE(added);
  EXPECT_TRUE(RtlIsGenericTableEmptyAvl(&t));
}

} // namespace
