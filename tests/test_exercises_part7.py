"""The write-it-yourself exercises of Part 7: each checker passes the chapter's solution, and
names what is wrong in typical wrong answers (and in the notebook's stub)."""

import numpy as np
import pytest

from dlbook.experiments import attention, deep_bidirectional, lstm_gru, rnn
from dlbook.scratch import gru
from dlbook.scratch import rnn as rnn_forward


def problems(report) -> str:
    assert not report, "a wrong answer passed"
    return "\n".join(report.problems)


# --- RNN: BPTT ------------------------------------------------------------------------------------


def rnn_backward_solution(grad_output, input, hx, weight_ih, weight_hh, bias_ih, bias_hh,
                          recurrence=True, tanh_prime=True, delta_dtype=None,
                          transpose=False):  # fmt: skip
    output, _ = rnn_forward(input, hx, weight_ih, weight_hh, bias_ih, bias_hh)
    h_prev = np.concatenate([hx[None], output[:-1]])  # h_{t-1} for every t
    delta = np.empty_like(output) if delta_dtype is None else np.empty(output.shape, delta_dtype)
    dh = np.zeros_like(hx)  # dL/dh_t arriving from step t + 1
    for t in reversed(range(len(input))):
        arriving = dh + grad_output[t] if recurrence else grad_output[t]
        delta[t] = arriving * (1 - output[t] ** 2) if tanh_prime else arriving
        dh = delta[t] @ weight_hh
    grad_weight_ih = np.einsum("tnh,tnd->hd", delta, input)
    grad_weight_hh = np.einsum("tnh,tnk->hk", delta, h_prev)
    grad_bias = delta.sum(axis=(0, 1))
    grad_input = delta @ (weight_ih.T if transpose else weight_ih)
    return grad_input, dh, grad_weight_ih, grad_weight_hh, grad_bias, grad_bias.copy()


def test_rnn_backward_solution_passes():
    report = rnn.check_rnn_backward(rnn_backward_solution)
    assert report, str(report)
    assert report.cases == 4
    assert "equals torch on the 3 float64 cases" in str(report)


@pytest.mark.parametrize(
    "mistake,words",
    [
        (
            {"recurrence": False},
            "case 3 (gradient at the last output only): grad_weight_hh is wrong",
        ),
        ({"tanh_prime": False}, "grad_weight_ih is wrong"),
        ({"delta_dtype": np.float64}, "case 4 (float32): grad_input has dtype float64"),
        ({"transpose": True}, "raised ValueError"),
    ],
)
def test_rnn_backward_mistakes_are_named(mistake, words):
    def wrong(*args):
        return rnn_backward_solution(*args, **mistake)

    assert words in problems(rnn.check_rnn_backward(wrong))


def test_rnn_backward_stub_fails():
    def stub(grad_output, input, hx, weight_ih, weight_hh, bias_ih, bias_hh):
        zeros = (input, hx, weight_ih, weight_hh, bias_ih, bias_hh)
        return tuple(np.zeros_like(a) for a in zeros)

    assert "grad_hx is wrong" in problems(rnn.check_rnn_backward(stub))


# --- LSTM: one step -------------------------------------------------------------------------------


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def lstm_cell_solution(input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh, order="ifgo",
                       tanh_c=True):  # fmt: skip
    a = input @ weight_ih.T + bias_ih + hx @ weight_hh.T + bias_hh  # (N, 4H)
    gate = dict(zip(order, np.split(a, 4, axis=1)))
    c = sigmoid(gate["f"]) * cx + sigmoid(gate["i"]) * np.tanh(gate["g"])
    return sigmoid(gate["o"]) * (np.tanh(c) if tanh_c else c), c


def test_lstm_cell_solution_passes():
    report = lstm_gru.check_lstm_cell(lstm_cell_solution)
    assert report, str(report)
    assert "equals torch" in str(report)


def test_lstm_cell_wrong_gate_order_is_named():
    text = problems(lstm_gru.check_lstm_cell(lambda *a: lstm_cell_solution(*a, order="ifog")))
    assert "h_1 is wrong" in text and "c_1 is wrong" in text


def test_lstm_cell_forgotten_tanh_of_c_spoils_h_only():
    text = problems(lstm_gru.check_lstm_cell(lambda *a: lstm_cell_solution(*a, tanh_c=False)))
    assert "h_1 is wrong" in text and "c_1" not in text


def test_lstm_cell_forgotten_transpose_is_named():
    def wrong(input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh):
        a = input @ weight_ih + bias_ih + hx @ weight_hh + bias_hh
        return a, a

    assert "case 2 (batch of 4, D = 5, H = 3): raised ValueError" in problems(
        lstm_gru.check_lstm_cell(wrong)
    )


def test_lstm_cell_stub_fails():
    assert "h_1 is wrong" in problems(lstm_gru.check_lstm_cell(lambda x, h, c, *w: (h, c)))


# --- a bidirectional GRU from two calls of gru ----------------------------------------------------


def bidirectional_solution(input, hx, weights, weights_reverse, flip_back=True, swap=False):
    forward, h_forward = gru(input, hx[0], *weights)
    backward, h_backward = gru(input[::-1], hx[1], *weights_reverse)  # read it backwards
    backward = backward[::-1] if flip_back else backward  # back in time order
    output = np.concatenate([forward, backward], axis=-1)
    h_n = [h_backward, h_forward] if swap else [h_forward, h_backward]
    return output, np.stack(h_n)


def test_bidirectional_solution_passes():
    report = deep_bidirectional.check_bidirectional_gru(bidirectional_solution)
    assert report, str(report)
    assert "equals torch" in str(report)


def test_bidirectional_outputs_not_flipped_back_are_named():
    wrong = lambda *a: bidirectional_solution(*a, flip_back=False)  # noqa: E731
    text = problems(deep_bidirectional.check_bidirectional_gru(wrong))
    assert "output is wrong" in text and "h_n" not in text


def test_bidirectional_final_states_in_the_wrong_order_are_named():
    wrong = lambda *a: bidirectional_solution(*a, swap=True)  # noqa: E731
    text = problems(deep_bidirectional.check_bidirectional_gru(wrong))
    assert "h_n is wrong" in text and "output" not in text


def test_bidirectional_final_state_from_the_last_output_is_named():
    def wrong(input, hx, weights, weights_reverse):
        output, _ = bidirectional_solution(input, hx, weights, weights_reverse)
        h = hx.shape[-1]
        return output, np.stack([output[-1, :, :h], output[-1, :, h:]])

    text = problems(deep_bidirectional.check_bidirectional_gru(wrong))
    assert "h_n is wrong at" in text


def test_bidirectional_stub_fails():
    def stub(input, hx, weights, weights_reverse):
        forward, h_forward = gru(input, hx[0], *weights)
        return np.concatenate([forward, forward], axis=-1), np.stack([h_forward, h_forward])

    assert "output is wrong" in problems(deep_bidirectional.check_bidirectional_gru(stub))


# --- scaled dot-product attention ---------------------------------------------------------------


def attention_solution(query, key, value, attn_mask=None, scale_by="E", keep="True", axis=-1):
    d = {"E": query.shape[-1], "Ev": value.shape[-1], "none": 1}[scale_by]
    scores = query @ np.swapaxes(key, -1, -2) / np.sqrt(d)  # (..., L, S)
    if attn_mask is not None:
        allowed = attn_mask if keep == "True" else ~attn_mask
        scores = np.where(allowed, scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=axis, keepdims=True))
    weights /= weights.sum(axis=axis, keepdims=True)
    return weights @ value


def test_attention_solution_passes():
    report = attention.check_attention(attention_solution)
    assert report, str(report)
    assert "equals torch on these 4 cases" in str(report)


@pytest.mark.parametrize(
    "mistake,words",
    [
        ({"scale_by": "none"}, "case 1 (self-attention, L = S = 3, E = 4): the result is wrong"),
        ({"scale_by": "Ev"}, "case 2 (2 queries, 5 keys, values of width 3): the result is wrong"),
        ({"keep": "False"}, "case 4 (causal mask): the result"),
        ({"axis": -2}, "case 1 (self-attention, L = S = 3, E = 4): the result is wrong"),
    ],
)
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # an inverted mask blocks a row
def test_attention_mistakes_are_named(mistake, words):
    report = attention.check_attention(lambda *a, **k: attention_solution(*a, **k, **mistake))
    assert words in problems(report)


def test_attention_with_a_plain_transpose_fails_on_the_batch():
    def wrong(query, key, value, attn_mask=None):
        scores = query @ key.T / np.sqrt(query.shape[-1])  # .T also swaps the batch axis
        if attn_mask is not None:
            scores = np.where(attn_mask, scores, -np.inf)
        weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
        return weights / weights.sum(axis=-1, keepdims=True) @ value

    text = problems(attention.check_attention(wrong))
    assert "case 3 (a batch of 2, (N, L, E)): raised ValueError" in text
    assert "case 1" not in text


def test_attention_stub_fails():
    stub = lambda query, key, value, attn_mask=None: np.zeros_like(query)  # noqa: E731
    assert "has shape" in problems(attention.check_attention(stub))
