from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("trail_sites", "0002_funnels"),
    ]

    operations = [
        migrations.AddField(
            model_name="site",
            name="stats_start_date",
            field=models.DateField(blank=True, null=True),
        ),
    ]
