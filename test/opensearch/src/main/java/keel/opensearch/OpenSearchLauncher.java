package keel.opensearch;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.http.HttpServerTransport;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Starts one real OpenSearch 2.19 node in this JVM for Keel's tests: the server and its plugins
 * come from Maven Central and are loaded from the classpath, as OpenSearch's own test framework
 * does, instead of from a distribution's modules/ and plugins/ folders (the distribution cannot be
 * downloaded here, and there is no Docker).
 *
 * <p>Arguments: {@code --home DIR} (default: a new temporary directory, removed on exit),
 * {@code --data DIR} (default: {@code <home>/data}), {@code --http-port N} (default 0: any free
 * port), {@code --log-level LEVEL} (default INFO; logs go to stderr). Reusing the same home, data
 * path and port after a stop brings the same node back with its indices, which is what the fault
 * tests rely on.
 *
 * <p>Once the node answers HTTP it prints {@code OPENSEARCH_URL=http://127.0.0.1:<port>} (and a
 * line with its pid and heap) on stdout. It stops when stdin reaches end of file, so a parent that
 * dies never leaves a node behind, and on SIGTERM/SIGINT; both close the node cleanly (its data is
 * flushed). SIGKILL is the crash case.
 */
public final class OpenSearchLauncher {

    /** The node class OpenSearch's test framework would use: classpath plugins, no modules dir. */
    static final class KeelNode extends Node {
        KeelNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    /**
     * The real stdout, taken before LogConfigurator points System.out at a logger (as it does in a
     * distribution): the ready lines must reach the parent as they are.
     */
    private static final PrintStream STDOUT = System.out;

    private static final String KNN_PLUGIN = "org.opensearch.knn.plugin.KNNPlugin";

    /** Logs go to stderr, so stdout carries only the ready lines a parent waits for. */
    private static final String LOG4J2_PROPERTIES = String.join("\n",
            "status = error",
            "appender.console.type = Console",
            "appender.console.name = console",
            "appender.console.target = SYSTEM_ERR",
            "appender.console.layout.type = PatternLayout",
            "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n",
            "rootLogger.level = info",
            "rootLogger.appenderRef.console.ref = console",
            "");

    private OpenSearchLauncher() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> options = parse(args);
        boolean temporary = !options.containsKey("home");
        Path home = temporary
                ? Files.createTempDirectory("keel-opensearch-")
                : Files.createDirectories(Path.of(options.get("home")).toAbsolutePath());
        Path data = Path.of(options.getOrDefault("data", home.resolve("data").toString())).toAbsolutePath();
        Path logs = home.resolve("logs");
        Files.createDirectories(data);
        Files.createDirectories(logs);
        Files.createDirectories(home.resolve("config"));

        Settings settings = Settings.builder()
                .put("cluster.name", "keel-test")
                .put("node.name", "keel-opensearch")
                .put("path.home", home.toString())
                .put("path.data", data.toString())
                .put("path.logs", logs.toString())
                .put("discovery.type", "single-node")
                .put("network.host", "127.0.0.1")
                .put("http.port", options.getOrDefault("http-port", "0"))
                // Nothing talks transport to a single node; any free port avoids clashing with
                // other nodes on the machine.
                .put("transport.port", "0")
                // Writes logs/http.ports and logs/transport.ports once bound.
                .put("node.portsfile", true)
                // A test machine's disk can be fuller than the production watermarks allow; with
                // them on, OpenSearch would make indices read-only mid-test.
                .put("cluster.routing.allocation.disk.threshold_enabled", false)
                .put("logger.level", options.getOrDefault("log-level", "INFO"))
                .build();


        List<Class<? extends Plugin>> plugins = new ArrayList<>();
        plugins.add(Netty4Plugin.class); // HTTP
        plugins.add(CommonAnalysisPlugin.class); // the `english` analyzer, stemmers
        plugins.add(ReindexPlugin.class); // _delete_by_query, _reindex
        plugins.add(PainlessPlugin.class);
        plugins.add(Class.forName(KNN_PLUGIN).asSubclass(Plugin.class)); // knn_vector, knn query
        loadPainlessExtensions();

        Path config = home.resolve("config");
        Path log4j = config.resolve("log4j2.properties");
        if (!Files.exists(log4j)) Files.writeString(log4j, LOG4J2_PROPERTIES);
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
                settings, Map.of(), config, () -> "keel-opensearch");
        // What Bootstrap does for a distribution: log4j from config/log4j2.properties, with
        // logger.level applied and the node name in each line.
        LogConfigurator.registerErrorListener();
        LogConfigurator.setNodeName("keel-opensearch");
        LogConfigurator.configure(environment);
        long started = System.nanoTime();
        Node node = new KeelNode(environment, plugins);

        Thread closer = new Thread(() -> {
            close(node);
            if (temporary) deleteTree(home);
        }, "keel-opensearch-shutdown");
        Runtime.getRuntime().addShutdownHook(closer);
        node.start();

        int port = node.injector().getInstance(HttpServerTransport.class)
                .boundAddress().publishAddress().getPort();
        String url = "http://127.0.0.1:" + port;
        awaitHttp(url);
        long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        long heapMb = Runtime.getRuntime().maxMemory() / (1024 * 1024);
        STDOUT.printf("keel-opensearch ready pid=%d port=%d start_ms=%d heap_max_mb=%d jvm_uptime_ms=%d home=%s%n",
                ProcessHandle.current().pid(), port, elapsedMs, heapMb,
                ManagementFactory.getRuntimeMXBean().getUptime(), home);
        STDOUT.println("OPENSEARCH_URL=" + url);
        STDOUT.flush();

        // The parent holds stdin open for as long as it wants the node.
        InputStream in = System.in;
        byte[] buffer = new byte[256];
        while (in.read(buffer) >= 0) {
            // ignore input; only end of file matters
        }
        System.exit(0); // runs the shutdown hook, which closes the node
    }

    /**
     * k-NN extends lang-painless (its descriptor says so) with scoring functions for Painless.
     * OpenSearch loads such extensions only for plugins from a plugins/ folder, never for
     * classpath plugins; Painless keeps its allowlists in a static map, so adding them before the
     * node builds its script engine is enough.
     */
    private static void loadPainlessExtensions() {
        ClassLoader loader = OpenSearchLauncher.class.getClassLoader();
        new PainlessPlugin().loadExtensions(new org.opensearch.plugins.ExtensiblePlugin.ExtensionLoader() {
            @Override
            public <T> List<T> loadExtensions(Class<T> type) {
                return ServiceLoader.load(type, loader).stream()
                        .map(ServiceLoader.Provider::get)
                        .collect(Collectors.toList());
            }
        });
    }

    /** start() returns once HTTP is bound; wait until it really answers before saying ready. */
    private static void awaitHttp(String url) throws InterruptedException {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(url + "/")).timeout(Duration.ofSeconds(5)).build();
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        IOException last = null;
        while (System.nanoTime() < until) {
            try {
                HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
                if (response.statusCode() == 200) return;
            } catch (IOException e) {
                last = e;
            }
            Thread.sleep(50);
        }
        throw new IllegalStateException("OpenSearch did not answer " + url + " within 60 s", last);
    }

    private static void close(Node node) {
        try {
            node.close();
            if (!node.awaitClose(20, TimeUnit.SECONDS)) {
                System.err.println("keel-opensearch: node did not close within 20 s");
            }
        } catch (IOException | InterruptedException | RuntimeException e) {
            System.err.println("keel-opensearch: closing the node failed: " + e);
        }
    }

    private static void deleteTree(Path root) {
        try (java.util.stream.Stream<Path> paths = Files.walk(root)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        } catch (IOException e) {
            System.err.println("keel-opensearch: could not remove " + root + ": " + e);
        }
    }

    private static Map<String, String> parse(String[] args) {
        Map<String, String> options = new java.util.HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (!arg.startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException(
                        "usage: OpenSearchLauncher [--home DIR] [--data DIR] [--http-port N] [--log-level LEVEL]; got " + arg);
            }
            options.put(arg.substring(2), args[++i]);
        }
        for (String key : options.keySet()) {
            if (!List.of("home", "data", "http-port", "log-level").contains(key)) {
                throw new IllegalArgumentException("unknown option --" + key);
            }
        }
        return options;
    }
}
