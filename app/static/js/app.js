/* Kursusportalen's own script: progressive enhancement only; every page works without it. */
document.addEventListener("DOMContentLoaded", function () {
  if (window.DKFDS && typeof window.DKFDS.init === "function") {
    window.DKFDS.init();
  }
  // dkfds' responsive menu moves what doesn't fit under a "Mere" button it writes in Danish only.
  var menu = document.querySelector("nav[data-more-label]");
  if (menu) {
    document.querySelectorAll(".more-button > span").forEach(function (label) {
      label.textContent = menu.getAttribute("data-more-label");
    });
  }
  // The error summary, else a form's warning summary (saved only when confirmed): read it first.
  var summary = document.getElementById("error-summary") || document.getElementById("warning-summary");
  // A form that comes back with something new to look at names the field to focus (data-focus="<id>").
  var focusForm = document.querySelector("form[data-focus]");
  var focusTarget = focusForm && document.getElementById(focusForm.getAttribute("data-focus"));
  if (summary) {
    summary.focus();
  } else if (focusTarget) {
    focusTarget.focus();
  }
  // Wide tables scroll inside a focusable region; where a table fits, the extra tab stop is noise.
  var regions = document.querySelectorAll("[data-scroll-region]");
  function updateRegions() {
    regions.forEach(function (region) {
      if (region.scrollWidth > region.clientWidth + 1) {
        region.setAttribute("tabindex", "0");
      } else {
        region.removeAttribute("tabindex");
      }
    });
  }
  if (regions.length) {
    updateRegions();
    window.addEventListener("resize", updateRegions);
  }
  // The run form: show the follow-up proposal as soon as teaching day 2 is chosen (without JS the
  // "Beregn forslag" button does the same with a round trip). The field itself stays as typed.
  var runForm = document.querySelector("form[data-follow-up-proposal]");
  var day2 = runForm && runForm.querySelector("#day2_date");
  var proposalHint = runForm && document.getElementById("follow_up_date-hint");
  if (day2 && proposalHint && window.fetch) {
    proposalHint.setAttribute("aria-live", "polite");
    var latest = 0;
    day2.addEventListener("change", function () {
      // Chromium fires "change" for every complete value while a year is typed (0002-, 0020-, 0202-...):
      // ask only for plausible dates, and let only the answer to the latest question through.
      if (!/^[12]\d{3}-\d{2}-\d{2}$/.test(day2.value)) {
        return;
      }
      var question = ++latest;
      var url = runForm.getAttribute("data-follow-up-proposal") + "?teaching_day_2=" + encodeURIComponent(day2.value);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          if (question === latest && (data.text || data.error)) {
            proposalHint.textContent = data.text || data.error;
          }
        })
        .catch(function () { /* the button still works */ });
    });
  }
  // Enrol on someone's behalf: the result list follows the search field as the coordinator types (without
  // JS the "Søg" button does the same with a round trip). The list's one-line summary is read out through
  // a status region; Tab goes on from the field to the list's "Tilmeld" buttons.
  var enrolSearch = document.querySelector("form[data-enrol-search]");
  var enrolQuery = enrolSearch && enrolSearch.querySelector("input[name=q]");
  var enrolResults = document.getElementById("enrol-results");
  var enrolStatus = document.getElementById("enrol-results-status");
  if (enrolQuery && enrolResults && window.fetch) {
    enrolQuery.setAttribute("aria-controls", "enrol-results");
    var enrolLatest = 0;
    var enrolTimer = null;
    var enrolAsk = function () {
      var question = ++enrolLatest;
      var url = enrolSearch.getAttribute("data-enrol-search") + "?q=" + encodeURIComponent(enrolQuery.value);
      fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.text();
        })
        .then(function (html) {
          if (question !== enrolLatest) { return; }
          // Parsed into an inert document (no scripts run), then moved in: the server escaped every name.
          var answer = new DOMParser().parseFromString(html, "text/html");
          enrolResults.replaceChildren.apply(enrolResults, Array.prototype.slice.call(answer.body.childNodes));
          var summaryLine = document.getElementById("enrol-results-summary");
          if (enrolStatus) { enrolStatus.textContent = summaryLine ? summaryLine.textContent : ""; }
          var enrolForm = document.getElementById("enrol-form");
          if (enrolForm) {  // a refusal after this shows the list the coordinator saw
            var action = new URL(enrolForm.action, window.location.href);
            action.searchParams.set("q", enrolQuery.value);
            enrolForm.action = action.pathname + action.search;
          }
        })
        .catch(function () { /* the "Søg" button still works */ });
    };
    enrolQuery.addEventListener("input", function () {
      window.clearTimeout(enrolTimer);
      enrolTimer = window.setTimeout(enrolAsk, 250);
    });
    enrolSearch.addEventListener("submit", function (event) {
      event.preventDefault();  // Enter: search now, and keep the focus in the field
      window.clearTimeout(enrolTimer);
      enrolAsk();
    });
  }
  document.querySelectorAll("button[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });
});
