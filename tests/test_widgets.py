"""app.core.widgets.FastSelect renders exactly what wtforms' Select renders, only faster."""

from __future__ import annotations

import pytest
from wtforms import Form, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import Select

from app.core.widgets import FastSelect

CHOICES = [
    SelectChoice("", "Alle"),
    SelectChoice("1", 'Familien i Centrum <FIC> & "venner"'),
    SelectChoice("2", "Æblehaven's kursus"),
    SelectChoice('3"><script>', "x"),
    SelectChoice("4", ""),  # no label: the value is shown
    SelectChoice("5", "Med egne attributter", render_kw={"disabled": True, "data-x": "1"}),
]


def _render(widget, data):
    class F(Form):
        pick = SelectField("Vælg", choices=CHOICES, widget=widget)

    form = F(data={"pick": data})
    return str(form.pick(class_="form-select", **{"aria-describedby": "pick-hint"}))


@pytest.mark.parametrize("data", ["", "1", '3"><script>', "5", "not a choice"])
def test_fast_select_renders_the_same_html_as_wtforms(data):
    fast = _render(FastSelect(), data)
    assert fast == _render(Select(), data)
    assert "<script>" not in fast


def test_fast_select_marks_only_the_chosen_option_and_escapes_labels():
    html = _render(FastSelect(), "1")
    assert html.count("selected") == 1
    assert '<option selected value="1">Familien i Centrum &lt;FIC&gt; &amp; &#34;venner&#34;</option>' in html
    assert '<option value="4">4</option>' in html


def test_boolean_values_are_rendered_as_text():
    class F(Form):
        flag = SelectField(
            "Flag",
            choices=[SelectChoice(True, "Ja"), SelectChoice(False, "Nej")],
            coerce=lambda v: v in (True, "True"),
            widget=FastSelect(),
        )

    fast = str(F(data={"flag": False}).flag())
    assert '<option value="True">Ja</option><option selected value="False">Nej</option>' in fast, fast
