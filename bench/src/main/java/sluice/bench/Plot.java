package sluice.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;

/** Two plain charts drawn with java.awt into PNG files (headless): lines over time, grouped bars. */
final class Plot {

  private static final int W = 1000;
  private static final int H = 560;
  private static final int LEFT = 80;
  private static final int RIGHT = 230;
  private static final int TOP = 50;
  private static final int BOTTOM = 60;
  private static final Color[] PALETTE = {
      new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e),
      new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f),
      new Color(0xbcbd22), new Color(0x17becf)};

  static {
    System.setProperty("java.awt.headless", "true");
  }

  private Plot() {}

  /** One line per series; x and y of equal length. Vertical dashed markers at {@code marks}. */
  static void lines(Path file, String title, String xLabel, String yLabel,
      Map<String, double[][]> series, List<Double> marks) {
    double xMax = 1;
    double yMax = 1;
    for (double[][] s : series.values()) {
      for (int i = 0; i < s[0].length; i++) {
        xMax = Math.max(xMax, s[0][i]);
        yMax = Math.max(yMax, s[1][i]);
      }
    }
    yMax = niceCeil(yMax * 1.05);
    BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = frame(img, title, xLabel, yLabel);
    int pw = W - LEFT - RIGHT;
    int ph = H - TOP - BOTTOM;
    axes(g, 0, xMax, 0, yMax, false);
    g.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {5f, 5f}, 0f));
    g.setColor(Color.GRAY);
    for (double m : marks) {
      int x = LEFT + (int) (m / xMax * pw);
      g.drawLine(x, TOP, x, TOP + ph);
    }
    int k = 0;
    for (Map.Entry<String, double[][]> e : series.entrySet()) {
      Color c = PALETTE[k % PALETTE.length];
      g.setColor(c);
      g.setStroke(new BasicStroke(2f));
      double[][] s = e.getValue();
      for (int i = 1; i < s[0].length; i++) {
        g.drawLine(LEFT + (int) (s[0][i - 1] / xMax * pw), TOP + ph - (int) (s[1][i - 1] / yMax * ph),
            LEFT + (int) (s[0][i] / xMax * pw), TOP + ph - (int) (s[1][i] / yMax * ph));
      }
      legend(g, k++, e.getKey(), c);
    }
    write(img, file);
  }

  /**
   * Grouped bars on a log scale: for each category (target) one bar per group (percentile).
   * values.get(category)[group].
   */
  static void bars(Path file, String title, String yLabel, List<String> groups,
      LinkedHashMap<String, double[]> values) {
    double yMin = Double.MAX_VALUE;
    double yMax = 0;
    for (double[] v : values.values()) {
      for (double d : v) {
        if (d > 0) {
          yMin = Math.min(yMin, d);
          yMax = Math.max(yMax, d);
        }
      }
    }
    if (yMax == 0) {
      yMin = 0.1;
      yMax = 1;
    }
    double lo = Math.pow(10, Math.floor(Math.log10(yMin)));
    double hi = Math.pow(10, Math.ceil(Math.log10(yMax * 1.01)));
    BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = frame(img, title, "", yLabel);
    int pw = W - LEFT - RIGHT;
    int ph = H - TOP - BOTTOM;
    axes(g, 0, 0, lo, hi, true);
    int n = values.size();
    double slot = pw / (double) Math.max(1, n);
    double bw = slot * 0.8 / groups.size();
    int i = 0;
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
    for (Map.Entry<String, double[]> e : values.entrySet()) {
      for (int j = 0; j < groups.size(); j++) {
        double v = e.getValue()[j];
        if (!(v > 0)) {
          continue; // also NaN: no latency to show
        }
        int h = (int) ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) * ph);
        int x = LEFT + (int) (i * slot + slot * 0.1 + j * bw);
        g.setColor(PALETTE[j % PALETTE.length]);
        g.fillRect(x, TOP + ph - h, Math.max(1, (int) bw - 1), h);
      }
      g.setColor(Color.BLACK);
      String label = e.getKey();
      FontMetrics fm = g.getFontMetrics();
      int cx = LEFT + (int) (i * slot + slot / 2);
      // two lines if long: "haproxy-maxconn-16" -> "haproxy" / "maxconn-16"
      int dash = label.indexOf('-');
      if (fm.stringWidth(label) > slot && dash > 0) {
        String a = label.substring(0, dash);
        String b = label.substring(dash + 1);
        g.drawString(a, cx - fm.stringWidth(a) / 2, TOP + ph + 15);
        g.drawString(b, cx - fm.stringWidth(b) / 2, TOP + ph + 28);
      } else {
        g.drawString(label, cx - fm.stringWidth(label) / 2, TOP + ph + 15);
      }
      i++;
    }
    for (int j = 0; j < groups.size(); j++) {
      legend(g, j, groups.get(j), PALETTE[j % PALETTE.length]);
    }
    write(img, file);
  }

  private static Graphics2D frame(BufferedImage img, String title, String xLabel, String yLabel) {
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, W, H);
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
    g.drawString(title, LEFT, 30);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    FontMetrics fm = g.getFontMetrics();
    g.drawString(xLabel, LEFT + (W - LEFT - RIGHT - fm.stringWidth(xLabel)) / 2, H - 12);
    Graphics2D r = (Graphics2D) g.create();
    r.rotate(-Math.PI / 2);
    r.drawString(yLabel, -(TOP + (H - TOP - BOTTOM + fm.stringWidth(yLabel)) / 2), 20);
    r.dispose();
    return g;
  }

  private static void axes(Graphics2D g, double x0, double x1, double y0, double y1, boolean logY) {
    int pw = W - LEFT - RIGHT;
    int ph = H - TOP - BOTTOM;
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
    FontMetrics fm = g.getFontMetrics();
    g.setStroke(new BasicStroke(1f));
    if (logY) {
      for (double decade = y0; decade <= y1 * 1.0001; decade *= 10) {
        for (double m : new double[] {1, 2, 5}) {
          double v = decade * m;
          if (v > y1 * 1.0001) {
            break;
          }
          int y = TOP + ph - (int) ((Math.log10(v) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0)) * ph);
          tickY(g, fm, y, label(v));
        }
      }
    } else {
      for (int i = 0; i <= 5; i++) {
        double v = y0 + (y1 - y0) * i / 5;
        tickY(g, fm, TOP + ph - (int) (ph * i / 5.0), label(v));
      }
    }
    if (x1 > x0) {
      double step = niceCeil((x1 - x0) / 10);
      for (double v = x0; v <= x1 + 1e-9; v += step) {
        int x = LEFT + (int) ((v - x0) / (x1 - x0) * pw);
        g.setColor(Color.BLACK);
        g.drawLine(x, TOP + ph, x, TOP + ph + 4);
        String s = label(v);
        g.drawString(s, x - fm.stringWidth(s) / 2, TOP + ph + 17);
      }
    }
    g.setColor(Color.BLACK);
    g.drawRect(LEFT, TOP, pw, ph);
  }

  private static void tickY(Graphics2D g, FontMetrics fm, int y, String s) {
    g.setColor(new Color(0xe0e0e0));
    g.drawLine(LEFT + 1, y, W - RIGHT - 1, y);
    g.setColor(Color.BLACK);
    g.drawLine(LEFT - 4, y, LEFT, y);
    g.drawString(s, LEFT - 6 - fm.stringWidth(s), y + 4);
  }

  private static void legend(Graphics2D g, int k, String name, Color c) {
    int x = W - RIGHT + 15;
    int y = TOP + 10 + k * 20;
    g.setColor(c);
    g.fillRect(x, y - 9, 14, 10);
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    g.drawString(name, x + 20, y);
  }

  private static String label(double v) {
    if (v == Math.rint(v) && Math.abs(v) < 1e9) {
      return String.valueOf((long) v);
    }
    return String.format(v < 1 ? "%.2f" : "%.1f", v);
  }

  private static double niceCeil(double v) {
    if (v <= 0) {
      return 1;
    }
    double p = Math.pow(10, Math.floor(Math.log10(v)));
    for (double m : new double[] {1, 2, 2.5, 5, 10}) {
      if (m * p >= v) {
        return m * p;
      }
    }
    return 10 * p;
  }

  private static void write(BufferedImage img, Path file) {
    try {
      ImageIO.write(img, "png", file.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
