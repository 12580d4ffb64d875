package sluice.node.admin;

import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpCharsets;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * The live dashboard: {@code GET /} (the page), {@code /dashboard/*} (its script and style) and
 * uPlot's files from its WebJar. Static files only, served without the bearer token: they hold
 * no data. The page polls {@code /status} once a second (with the token, if the operator gives
 * it one) and keeps the history itself, so the node keeps none for it.
 */
final class DashboardRoutes extends AllDirectives {
  private static final String UPLOT = "META-INF/resources/webjars/uplot/1.6.30/dist/";
  private static final String OURS = "sluice/dashboard/";

  /** The paths first, then the method: a passing {@code get} would cancel other routes' 405s. */
  Route route() {
    return concat(
        pathSingleSlash(() -> get(() -> getFromResource(OURS + "index.html", ContentTypes.TEXT_HTML_UTF8))),
        pathPrefix("dashboard", () -> get(() -> concat(
            path("dashboard.js", () -> getFromResource(OURS + "dashboard.js",
                MediaTypes.APPLICATION_JAVASCRIPT.toContentType(HttpCharsets.UTF_8))),
            path("dashboard.css", () -> getFromResource(OURS + "dashboard.css",
                MediaTypes.TEXT_CSS.toContentType(HttpCharsets.UTF_8))),
            path("uPlot.iife.min.js", () -> getFromResource(UPLOT + "uPlot.iife.min.js",
                MediaTypes.APPLICATION_JAVASCRIPT.toContentType(HttpCharsets.UTF_8))),
            path("uPlot.min.css", () -> getFromResource(UPLOT + "uPlot.min.css",
                MediaTypes.TEXT_CSS.toContentType(HttpCharsets.UTF_8)))))));
  }
}
