using Slipway.Server.Builds;
using Slipway.Server.Projects;

namespace Slipway.Server.Tests.Builds;

public sealed class DetectingFrameworksTests : IDisposable
{
    private readonly TempDirectory source = new();

    private BuildPlan Auto(string? build = null, string? start = null, string? output = null) =>
        FrameworkDetection.Plan(source.Path, Framework.Auto, build, start, output);

    [Fact]
    public void Plan_ProcfileWebLine_IsTheStartCommand()
    {
        source.Write("Procfile", "worker: node worker.js\nweb: node server.js --port $PORT\n");

        var plan = Auto();

        Assert.Equal(new BuildPlan("custom", null, "node server.js --port $PORT", null, false), plan);
    }

    [Fact]
    public void Plan_ProcfileWithPackageJson_BuildsWithNpmAndStartsTheWebLine()
    {
        source.Write("Procfile", "web: node dist/server.js");
        source.Write("package.json", """{"scripts":{"build":"tsc","start":"node index.js"}}""");

        var plan = Auto();

        Assert.Equal(new BuildPlan("node", "npm install && npm run build", "node dist/server.js", null, false), plan);
    }

    [Fact]
    public void Plan_PackageJsonWithLockAndScripts_UsesNpmCiBuildAndStart()
    {
        source.Write("package.json", """{"name":"app","scripts":{"build":"tsc","start":"node dist/index.js"}}""");
        source.Write("package-lock.json", "{}");

        var plan = Auto();

        Assert.Equal(new BuildPlan("node", "npm ci && npm run build", "npm start", null, false), plan);
    }

    [Fact]
    public void Plan_PackageJsonWithoutScripts_InstallsAndRunsMain()
    {
        source.Write("package.json", """{"name":"app","main":"server.js"}""");

        var plan = Auto();

        Assert.Equal(new BuildPlan("node", "npm install", "node server.js", null, false), plan);
    }

    [Fact]
    public void Plan_PackageJsonWithoutMain_RunsIndexJs()
    {
        source.Write("package.json", """{"name":"app","dependencies":{}}""");

        Assert.Equal("node index.js", Auto().StartCommand);
    }

    [Fact]
    public void Plan_MainWithShellCharacters_IsQuoted()
    {
        source.Write("package.json", """{"main":"my app's.js"}""");

        Assert.Equal("node 'my app'\\''s.js'", Auto().StartCommand);
    }

    [Fact]
    public void Plan_NextDependency_IsNextjs()
    {
        source.Write("package.json", """{"dependencies":{"next":"15.0.0","react":"19.0.0"},"scripts":{"build":"next build","start":"next start"}}""");
        source.Write("package-lock.json", "{}");

        var plan = Auto();

        Assert.Equal(new BuildPlan("nextjs", "npm ci && npm run build", "npm start", null, false), plan);
    }

    [Fact]
    public void Plan_InvalidPackageJson_FailsWithAClearError()
    {
        source.Write("package.json", "{ not json");

        var error = Assert.Throws<BuildPlanException>(() => Auto());

        Assert.StartsWith("package.json is not valid JSON", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_RequirementsTxt_InstallsIntoAVenvAndRunsAppPy()
    {
        source.Write("requirements.txt", "flask\n");
        source.Write("app.py", "print('hi')\n");

        var plan = Auto();

        Assert.Equal(new BuildPlan("python", "python3 -m venv --copies .venv && .venv/bin/python -m pip install -r requirements.txt",
            ".venv/bin/python app.py", null, false), plan);
    }

    [Fact]
    public void Plan_PyprojectWithMainPy_InstallsTheProjectAndRunsMainPy()
    {
        source.Write("pyproject.toml", "[project]\nname = \"app\"\n");
        source.Write("main.py", "print('hi')\n");

        var plan = Auto();

        Assert.Equal(new BuildPlan("python", "python3 -m venv --copies .venv && .venv/bin/python -m pip install .", ".venv/bin/python main.py", null, false),
            plan);
    }

    [Fact]
    public void Plan_PythonWithProcfile_RunsTheWebLineInsideTheVenv()
    {
        source.Write("requirements.txt", "gunicorn\n");
        source.Write("Procfile", "web: python -m gunicorn app:app");

        var plan = Auto();

        Assert.Equal("python", plan.Framework);
        Assert.Equal("export PATH=\"$PWD/.venv/bin:$PATH\" VIRTUAL_ENV=\"$PWD/.venv\"; python -m gunicorn app:app", plan.StartCommand);
    }

    [Fact]
    public void Plan_PythonWithoutEntryPoint_AsksForAStartCommand()
    {
        source.Write("requirements.txt", "flask\n");

        var error = Assert.Throws<BuildPlanException>(() => Auto());

        Assert.Contains("set a start command", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_Csproj_PublishesAndRunsTheDll()
    {
        source.Write("Shop.Web.csproj", "<Project Sdk=\"Microsoft.NET.Sdk.Web\"></Project>");

        var plan = Auto();

        Assert.Equal(new BuildPlan("dotnet", "dotnet publish -c Release -o out", "dotnet out/Shop.Web.dll", null, false), plan);
    }

    [Fact]
    public void Plan_CsprojWithAssemblyName_RunsThatAssembly()
    {
        source.Write("Shop.csproj", "<Project><PropertyGroup><AssemblyName>shop-server</AssemblyName></PropertyGroup></Project>");

        Assert.Equal("dotnet out/shop-server.dll", Auto().StartCommand);
    }

    [Fact]
    public void Plan_SeveralCsprojFiles_AsksForCommands()
    {
        source.Write("A.csproj", "<Project />");
        source.Write("B.csproj", "<Project />");

        Assert.Throws<BuildPlanException>(() => Auto());
    }

    [Fact]
    public void Plan_GoMod_BuildsAndRunsTheBinary()
    {
        source.Write("go.mod", "module example.com/app\n\ngo 1.22\n");

        Assert.Equal(new BuildPlan("go", "go build -o app .", "./app", null, false), Auto());
    }

    [Fact]
    public void Plan_IndexHtmlAtTheRoot_IsAStaticSiteServedFromTheRoot()
    {
        source.Write("index.html", "<h1>hi</h1>");

        Assert.Equal(new BuildPlan("static", null, null, ".", true), Auto());
    }

    [Fact]
    public void Plan_OutputDirectory_IsAStaticSiteBuiltWithTheDetectedToolchain()
    {
        source.Write("package.json", """{"scripts":{"build":"vite build"}}""");

        var plan = Auto(output: "./dist/");

        Assert.Equal(new BuildPlan("static", "npm install && npm run build", null, "dist", true), plan);
    }

    [Fact]
    public void Plan_OutputDirectoryOutsideTheSource_IsRefused()
    {
        Assert.Throws<BuildPlanException>(() => Auto(output: "../etc"));
        Assert.Throws<BuildPlanException>(() => Auto(output: "/var/www"));
    }

    [Fact]
    public void Plan_NothingRecognisable_TellsTheUserToSetCommands()
    {
        source.Write("README.md", "hello");

        var error = Assert.Throws<BuildPlanException>(() => Auto());

        Assert.Contains("Set the project's build and start commands", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_ExplicitCommands_WinOverEverythingDetected()
    {
        source.Write("Procfile", "web: node procfile.js");
        source.Write("package.json", """{"scripts":{"build":"tsc","start":"node index.js"}}""");

        var plan = Auto(build: "make all", start: "./bin/server");

        Assert.Equal(new BuildPlan("node", "make all", "./bin/server", null, false), plan);
    }

    [Fact]
    public void Plan_ExplicitStartOnly_KeepsTheDetectedBuild()
    {
        source.Write("go.mod", "module x\n");

        Assert.Equal(new BuildPlan("go", "go build -o app .", "./app --verbose", null, false), Auto(start: "./app --verbose"));
    }

    [Fact]
    public void Plan_ExplicitStartOverIndexHtml_RunsAProcess()
    {
        source.Write("index.html", "<h1>hi</h1>");

        Assert.Equal(new BuildPlan("custom", null, "python3 -m http.server $PORT", null, false), Auto(start: "python3 -m http.server $PORT"));
    }

    [Fact]
    public void Plan_FrameworkStatic_ForcesAStaticSite()
    {
        source.Write("package.json", """{"scripts":{"start":"node index.js"}}""");

        Assert.Equal(new BuildPlan("static", "npm run export", null, "out", true),
            FrameworkDetection.Plan(source.Path, Framework.Static, "npm run export", "node index.js", "out"));
        Assert.Equal(".", FrameworkDetection.Plan(source.Path, Framework.Static, null, null, null).OutputDirectory);
    }

    [Fact]
    public void Plan_FrameworkCustom_RequiresAStartCommand()
    {
        Assert.Throws<BuildPlanException>(() => FrameworkDetection.Plan(source.Path, Framework.Custom, "make", null, null));
        Assert.Equal(new BuildPlan("custom", "make", "./server", null, false),
            FrameworkDetection.Plan(source.Path, Framework.Custom, "make", "./server", null));
    }

    [Fact]
    public void Plan_ExplicitFrameworkWithoutItsFiles_SaysWhatIsMissing()
    {
        var error = Assert.Throws<BuildPlanException>(() => FrameworkDetection.Plan(source.Path, Framework.Go, null, null, null));

        Assert.Contains("go.mod", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_ExplicitNextjs_UsesNodeRulesWithTheNextjsLabel()
    {
        source.Write("package.json", """{"scripts":{"build":"next build"},"dependencies":{"next":"15"}}""");

        Assert.Equal(new BuildPlan("nextjs", "npm install && npm run build", "node_modules/.bin/next start", null, false),
            FrameworkDetection.Plan(source.Path, Framework.Nextjs, null, null, null));
    }

    [Fact]
    public void Plan_BlankCommands_CountAsUnset()
    {
        source.Write("go.mod", "module x\n");

        Assert.Equal(new BuildPlan("go", "go build -o app .", "./app", null, false), Auto(build: "  ", start: ""));
    }

    public void Dispose() => source.Dispose();
}
