"""Which prompts share a prefix (lbt/engines/prefix.py), on token-id lists."""

from lbt.engines.prefix import Group, pack, prefix_groups, single_rows


def _check(groups, prompts, max_rows):
    assert sorted(r for g in groups for r in g.rows) == list(range(len(prompts)))
    for g in groups:
        assert 1 <= len(g.rows) <= max_rows
        head = prompts[g.rows[0]][:g.shared]
        assert all(prompts[r][:g.shared] == head and len(prompts[r]) > g.shared for r in g.rows)


def test_rows_with_a_long_common_prefix_share_it_and_short_common_heads_do_not_join_them():
    system = [1, 2]
    tr_a, tr_b = list(range(10, 30)), list(range(40, 55))
    prompts = [system + tr_a + [7, 8], system + tr_b + [9], system + tr_a + [5], system + tr_b + [9, 9, 9],
               system + tr_a + [7, 8]]
    groups = prefix_groups(prompts, max_rows=8)
    _check(groups, prompts, 8)
    by_rows = {g.rows: g.shared for g in groups}
    assert by_rows == {(2, 0, 4): 22, (1, 3): 17}  # sorted by ids; the TR is shared, the system prompt with it


def test_identical_prompts_share_all_but_their_last_token_and_groups_respect_the_batch_size():
    prompts = [[3, 4, 5, 6]] * 5 + [[3, 4, 9]]
    groups = prefix_groups(prompts, max_rows=2)
    _check(groups, prompts, 2)
    assert [(len(g.rows), g.shared) for g in groups] == [(2, 3), (2, 3), (2, 2)]  # the odd one out with [3, 4, 9]


def test_a_prompt_that_is_the_start_of_another_keeps_a_token_for_the_suffix_pass():
    prompts = [[1, 2, 3], [1, 2, 3, 4, 5], [1]]
    groups = prefix_groups(prompts, max_rows=4)
    _check(groups, prompts, 4)
    assert all(g.shared < min(len(prompts[r]) for r in g.rows) for g in groups)


def test_no_sharing_and_packing():
    prompts = [[1] * n for n in (5, 2, 9, 2)]
    assert single_rows(prompts) == [Group(0, (i,)) for i in range(4)]
    batches = pack(single_rows(prompts), prompts, batch_size=3)
    assert [[g.rows[0] for g in b] for b in batches] == [[1, 3, 0], [2]]  # shortest together
    assert pack([], [], 3) == []
