"""Where a scored group of prompts splits into the head evaluated once and each prompt's rest (shared_head)."""

from __future__ import annotations

from kgsolver.connectors.llms.llamacpp_chat import shared_head

NL = 0  # the fake vocabulary's one line-ending token


def ends_line(token: int) -> bool:
    return token == NL


def prompt(*lines: list[int]) -> list[int]:
    """Token lines, each closed by the line-ending token."""
    return [token for line in lines for token in line + [NL]]


HEAD = ([1, 2, 3], [4, 5])  # the passages and the question: the same in every rotation
ROTATIONS = [prompt(*HEAD, [10, 20, 21], [11, 30], [12, 40, 41], [9]),  # A. the sun / B. ... / "Answer:"
             prompt(*HEAD, [10, 30], [11, 40, 41], [12, 20, 21], [9]),
             prompt(*HEAD, [10, 20, 22], [11, 30], [12, 40, 41], [9])]


def test_a_single_prompt_is_evaluated_whole():
    assert shared_head(ROTATIONS[:1], ends_line) == 0


def test_the_head_is_the_common_prefix_cut_back_to_its_last_line_end():
    assert shared_head(ROTATIONS, ends_line) == len(prompt(*HEAD))


def test_any_two_rotations_share_the_same_head_as_the_whole_group():
    # rotations 0 and 2 agree further (their first option starts with the same token 20), but not to a line end
    assert shared_head([ROTATIONS[0], ROTATIONS[2]], ends_line) == shared_head(ROTATIONS, ends_line)


def test_each_prompt_keeps_at_least_its_last_token_to_read_the_logits_from():
    same = prompt(*HEAD, [9])
    assert shared_head([same, same], ends_line) == len(prompt(*HEAD))  # not the whole prompt: its last line stays
    assert shared_head([[NL, NL], [NL, NL]], ends_line) == 1


def test_prompts_that_differ_in_their_first_line_share_nothing():
    assert shared_head([prompt([1, 2]), prompt([1, 3])], ends_line) == 0
