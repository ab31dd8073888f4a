// Keeps the deadline countdowns current between page loads. The server renders the same
// text, so the pages work without this script; it only stops the numbers going stale.
(function () {
  "use strict";
  function duration(seconds) {
    seconds = Math.floor(Math.abs(seconds));
    var d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600),
        m = Math.floor(seconds % 3600 / 60);
    if (d) return d + "天" + h + "小时";
    if (h) return h + "小时" + m + "分";
    return m ? m + "分" : "不足1分";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var left = (Date.parse(el.getAttribute("data-due")) - now) / 1000;
      if (isNaN(left)) return;
      var prefix = el.getAttribute("data-prefix") || "";
      el.textContent = prefix + (left < 0 ? "超时 " : "剩余 ") + duration(left);
      el.classList.toggle("overdue", left < 0);
      var row = el.closest("tr");
      if (row && !el.hasAttribute("data-prefix")) row.classList.toggle("row-overdue", left < 0);
    });
  }
  setInterval(tick, 30000);
  document.addEventListener("htmx:afterSwap", tick);
})();
// A 细分类 select lists the sub-categories of every category (the server checks the pair);
// show only those of the category chosen in the same form. A choice the new category does
// not have falls back to the first option ("无" / "全部细分类"), as the server would clear it.
(function () {
  "use strict";
  function follow(sub) {
    var form = sub.form, name = sub.getAttribute("data-follows");
    var category = form && form.elements[name];
    if (!category) return;
    function apply() {
      var chosen = category.value;
      Array.prototype.forEach.call(sub.querySelectorAll("optgroup"), function (group) {
        var first = group.querySelector("option");
        var of = first ? first.value.split(":")[0] : "";
        var shown = !chosen || of === chosen;
        group.hidden = !shown;
        group.disabled = !shown;
      });
      var picked = sub.options[sub.selectedIndex];
      if (picked && picked.parentNode.disabled) sub.selectedIndex = 0;
    }
    category.addEventListener("change", apply);
    apply();
  }
  function init() { document.querySelectorAll("select[data-follows]").forEach(follow); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
