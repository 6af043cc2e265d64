// What DBeaver, Tableau and Metabase do through PostgreSQL's JDBC driver (extended query protocol):
// a plain query, a prepared statement with typed parameters, catalog metadata, an error and recovery.
import java.math.BigDecimal;
import java.sql.*;

public class LakeProbe {
    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/lake";
        try (Connection c = DriverManager.getConnection(url, "lake", "")) {
            try (Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT count(*), sum(total_amount) FROM sales_order")) {
                rs.next();
                System.out.println("plain|" + rs.getLong(1) + "|" + rs.getBigDecimal(2));
            }
            String sql = "SELECT order_id, total_amount, created_at FROM sales_order "
                       + "WHERE total_amount > ? AND order_id < ? AND invoice_number LIKE ? AND created_at > ? "
                       + "ORDER BY order_id";
            try (PreparedStatement p = c.prepareStatement(sql)) {
                p.setBigDecimal(1, new BigDecimal("1.5"));
                p.setLong(2, 5);
                p.setString(3, "INV-%");
                p.setTimestamp(4, Timestamp.from(java.time.Instant.parse("2026-01-01T00:00:00Z")));
                for (int run = 0; run < 6; run++) {  // from the 5th run on pgjdbc uses a named server-side statement
                    try (ResultSet rs = p.executeQuery()) {
                        StringBuilder out = new StringBuilder("prepared");
                        while (rs.next()) out.append("|").append(rs.getLong(1)).append("=").append(rs.getBigDecimal(2));
                        if (run == 5) System.out.println(out);
                    }
                }
            }
            String types = "SELECT order_date, TIME '13:14:15.5' AS t, INTERVAL '3 days 4 hours' AS i, "
                         + "[1, 2] AS ints, paid, ratio, quantity FROM sales_order WHERE order_id = ?";
            try (PreparedStatement p = c.prepareStatement(types)) {
                p.setInt(1, 2);
                for (int run = 0; run < 6; run++) {  // binary results from the 5th run on
                    try (ResultSet rs = p.executeQuery()) {
                        rs.next();
                        if (run == 5) System.out.println("types|" + rs.getDate(1) + "|" + rs.getString(2) + "|"
                            + rs.getString(3) + "|" + java.util.Arrays.toString((Object[]) rs.getArray(4).getArray()) + "|" + rs.getBoolean(5) + "|" + rs.getDouble(6)
                            + "|" + rs.getInt(7));
                    }
                }
            }
            DatabaseMetaData md = c.getMetaData();
            try (ResultSet rs = md.getColumns(null, "main", "sales_order", "%")) {
                StringBuilder out = new StringBuilder("columns");
                while (rs.next()) out.append("|").append(rs.getString("COLUMN_NAME")).append(":").append(rs.getString("TYPE_NAME"));
                System.out.println(out);
            }
            try (ResultSet rs = md.getTables(null, "main", "sales%", new String[]{"TABLE"})) {
                StringBuilder out = new StringBuilder("tables");
                while (rs.next()) out.append("|").append(rs.getString("TABLE_NAME"));
                System.out.println(out);
            }
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT nope FROM sales_order")) {
                rs.next();
            } catch (SQLException e) {
                System.out.println("error|" + e.getSQLState());
            }
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("DELETE FROM sales_order")) {
                rs.next();
            } catch (SQLException e) {
                System.out.println("rejected|" + e.getSQLState());
            }
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM sales_order")) {
                rs.next();
                System.out.println("after|" + rs.getLong(1));
            }
        }
    }
}
