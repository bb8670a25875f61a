"""The manager's pages in real Chromium, on the history of `manager_story`: the overview, the pipeline
board, the analytics and the diagram heatmap show the figures the engine computed, as people read them."""
import pytest
from conftest import PASSWORD
from live import csp_violations, screenshot, sign_in, wait_for_global
from manager_story import T0, build
from playwright.sync_api import expect

from engine import clock

pytestmark = [pytest.mark.browser, pytest.mark.same_on_any_database]


@pytest.fixture
def mia(browser, live, session, people):
    with clock.frozen_at(T0):
        story = build(session, people)
        page = sign_in(browser, live.url, "mia", PASSWORD)
        page.story = story
        yield page
        assert page.console_errors == [] and csp_violations(page) == [], (page.console_errors, csp_violations(page))


def test_the_overview_shows_late_work_and_who_has_it(mia):
    mia.get_by_role("link", name="Overview").click()
    expect(mia.locator("#overdue-count")).to_have_text("2")
    expect(mia.locator("#due-soon-count")).to_have_text("1")
    expect(mia.locator("#failed-count")).to_have_text("1")
    overdue = mia.locator('table[data-list="overdue"]')
    expect(overdue.locator(f'tr[data-task="{mia.story.c_draft}"] .owner')).to_have_text("walt")
    expect(overdue.locator(f'tr[data-task="{mia.story.d_draft}"] .owner')).to_have_text("writer")
    expect(overdue.locator(f'tr[data-task="{mia.story.d_draft}"]')).to_contain_text("Tue 10 Nov 09:00")
    expect(mia.locator("#by-owner tbody tr").nth(0).locator("td")).to_have_text(["writer role", "2", "1"])
    screenshot(mia, "overview")
    row = overdue.locator(f'tr[data-task="{mia.story.d_draft}"]')
    row.locator("select").select_option("wendy")
    row.get_by_role("button", name="Reassign").click()
    expect(mia.locator(".flash-success")).to_have_text("“Write the draft” is now with wendy.")
    expect(overdue.locator(f'tr[data-task="{mia.story.d_draft}"] .owner')).to_have_text("wendy")
    overdue.locator(f'tr[data-task="{mia.story.c_draft}"]').get_by_role("button", name="Nudge").click()
    expect(mia.locator(".flash-success")).to_have_text("Reminder sent to walt about “Write the draft”.")


def test_the_board_puts_each_campaign_in_the_column_of_its_step(mia):
    mia.goto("/processes/manager_review/board")
    draft = mia.locator('section[data-element="Task_draft"]')
    review = mia.locator('section[data-element="Task_review"]')
    expect(draft.locator("h2 .count")).to_have_text("3")
    expect(review.locator("h2 .count")).to_have_text("0")
    expect(draft.locator(".board-card.overdue")).to_have_count(2)
    late = draft.locator(f'.board-card[data-instance="{mia.story.c}"]')
    expect(late).to_contain_text("Christmas teaser")
    expect(late).to_contain_text("With walt")
    expect(late).to_contain_text("Due Tue 10 Nov 09:00 (overdue)")
    expect(draft.locator(f'.board-card[data-instance="{mia.story.f}"]')).to_contain_text("Due Wed 11 Nov 13:00")
    screenshot(mia, "board")


def test_the_analytics_page_shows_the_figures(mia):
    mia.goto("/processes/manager_review/analytics?version=1&compare=2")
    expect(mia.locator('[data-figure="started"]')).to_have_text("4")
    expect(mia.locator('[data-figure="cycle-median"]')).to_have_text("1 d 2 h")   # 26.5 h
    expect(mia.locator('[data-figure="cycle-p90"]')).to_have_text("1 d 9 h")      # 33 h
    draft = mia.locator('#steps tr[data-element="Task_draft"] td')
    expect(draft).to_have_text(["Write the draft", "3", "1", "1 h / 1 d 6 h", "3 h / 4 h", "5 h / 1 d 6 h", "33 %",
                                "4 h (over)", "+4 h slower"])
    review = mia.locator('#steps tr[data-element="Task_review"] td')
    expect(review).to_have_text(["Review the draft", "3", "1", "2 h / 2 h", "5 h / 8 h", "3 h / 10 h", "33 %", "–",
                                 "+2 h slower"])
    expect(mia.locator("#weekly tbody tr")).to_have_count(2)
    expect(mia.locator("#weekly tbody tr").nth(0).locator("td").nth(1)).to_have_text("2")
    screenshot(mia, "analytics")


def test_the_heatmap_colours_each_step_and_labels_it(mia):
    mia.goto("/processes/manager_review/analytics?version=1")
    mia.get_by_role("link", name="Heatmap on the diagram").click()
    wait_for_global(mia, "batonViewer")
    result = mia.evaluate("window.batonViewer.ready")
    assert sorted(result["heat"]["painted"]) == ["Task_draft", "Task_review"]
    expect(mia.locator('.baton-heat-value[data-element="Task_draft"]')).to_have_text("5 h")
    expect(mia.locator('.baton-heat-value[data-element="Task_review"]')).to_have_text("3 h")
    expect(mia.locator("#heatmap-legend")).to_have_text("Total time, medianlow 3 hhigh 5 h")
    fills = mia.evaluate("""['Task_draft', 'Task_review'].map(id => window.batonViewer.viewer.get('elementRegistry')
        .getGraphics(id).querySelector('.djs-visual > rect').style.fill)""")
    assert fills == ["rgb(239, 143, 143)", "rgb(143, 239, 143)"], "the slowest red, the fastest green"
    screenshot(mia, "heatmap")
    mia.select_option("#figure", "runs")
    mia.get_by_role("button", name="Show").click()
    wait_for_global(mia, "batonViewer")
    mia.evaluate("window.batonViewer.ready")
    expect(mia.locator('.baton-heat-value[data-element="Task_draft"]')).to_have_text("3")
